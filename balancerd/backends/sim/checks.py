"""The simulated backend's own pre-flight checks of a destination: networks, CPU, the migration network, pools.

Called by :meth:`balancerd.backends.sim.cluster.SimCluster.preflight`, so that the executor refuses on the
simulated cluster what pre-flight refuses on libvirt (the request's network map applied, as
``backends.libvirt.moves`` does). The planner learns the same facts from the snapshot; these checks are what
catches a plan that ignored them.
"""

from __future__ import annotations

from collections.abc import Mapping

from balancerd.backends.base import Check
from balancerd.backends.sim.specs import SimHost, SimVm


def fact_checks(vm: SimVm, source: SimHost, dest: SimHost,
                network_map: tuple[tuple[str, str], ...]) -> tuple[Check, ...]:
    """The networks, CPU and migration-network checks of moving ``vm`` from ``source`` to ``dest``."""
    return networks(vm, dest, dict(network_map)), cpu(vm, source, dest), migration_network(dest)


def networks(vm: SimVm, dest: SimHost, mapping: dict[str, str]) -> Check:
    wanted = sorted({mapping.get(name, name) for name in vm.networks})
    if dest.networks is None:
        return Check("networks", True, f"{dest.name} offers every network")
    missing = [name for name in wanted if name not in dest.networks]
    if missing:
        return Check("networks", False, f"{dest.name} lacks network {', '.join(missing)} "
                                        "(no network_map row maps it there)")
    return Check("networks", True, f"present on {dest.name}: {', '.join(wanted) or 'no NICs'}")


def cpu(vm: SimVm, source: SimHost, dest: SimHost) -> Check:
    if vm.cpu_mode == "custom" and vm.cpu_model and dest.cpu_models is not None \
            and vm.cpu_model not in dest.cpu_models:
        return Check("cpu compatible", False, f"{dest.name}: the VM's CPU model {vm.cpu_model} is incompatible")
    if vm.cpu_mode in ("host-passthrough", "host-model") and source.cpu_group and dest.cpu_group \
            and source.cpu_group != dest.cpu_group:
        return Check("cpu compatible", False, f"{dest.name}: CPU group {dest.cpu_group}, the VM's host CPU is "
                                              f"{source.cpu_group}")
    return Check("cpu compatible", True, f"{dest.name}: compatible")


def migration_network(dest: SimHost) -> Check:
    if dest.migration_problem:
        return Check("migration network", False, dest.migration_problem)
    return Check("migration network", True, f"{dest.name} is up on the migration network")


def storage(vm: SimVm, dest: SimHost, available: Mapping[str, int]) -> Check:
    """Every pool the VM has disks in exists on ``dest`` with room for them (``available``: pool -> free MiB)."""
    short = [f"{pool} ({size} MiB needed, {available.get(pool, 0)} free)" if pool in available else f"{pool} (absent)"
             for pool, size in vm.disks if available.get(pool, -1) < size]
    if short:
        return Check("storage", False, f"{dest.name} lacks room in storage pool {', '.join(short)}")
    return Check("storage", True, f"{dest.name}: room in {', '.join(p for p, _ in vm.disks) or 'no local disks'}")
