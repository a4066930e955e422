"""Pre-flight facts as planning rules: the hosts a VM's networks, CPU and the migration network rule out.

Built once per :class:`~balancerd.optimize.state.ClusterState` from the snapshot (issue 20, item 1), so that a
plan never proposes a destination that the executor's pre-flight would refuse for these reasons. The
collector fills the facts in (``Host.networks`` with the network map applied, ``cpu_group``, ``cpu_models``,
``migration_problem``; ``Vm.networks``, ``cpu_mode``, ``cpu_model``); a fact a backend does not know (None,
"") rules nothing out. Storage pools are named resources (``model.POOL_PREFIX``) and are checked with the
other resources by :func:`balancerd.optimize.constraints.extra_fits`.

VMs sharing a signature (networks, CPU definition, the CPU group of their host) share one computed answer,
so the cost is (distinct signatures x hosts), not (VMs x hosts).
"""

from __future__ import annotations

from collections.abc import Mapping

from balancerd.model import ClusterSnapshot, Host, Vm

Blocked = Mapping[str, str]
"""Host name -> why a VM may not go there (every reason of the host, joined)."""

_HOST_BOUND = ("host-passthrough", "host-model")
"""CPU modes whose guest CPU is the host's own: such a VM only moves within its host's CPU group."""


def blocked_hosts(snapshot: ClusterSnapshot) -> dict[str, Blocked]:
    """For every VM that some host's facts rule out, those hosts with the reasons (VMs without any left out)."""
    hosts = {h.name: h for h in snapshot.hosts}
    by_signature: dict[tuple[frozenset[str], str, str, str], Blocked] = {}
    found: dict[str, Blocked] = {}
    for vm in snapshot.vms:
        source = hosts.get(vm.host)
        key = (vm.networks, vm.cpu_mode, vm.cpu_model, source.cpu_group if source is not None else "")
        if key not in by_signature:
            by_signature[key] = _blocked_for(vm, source, snapshot.hosts)
        if by_signature[key]:
            found[vm.name] = by_signature[key]
    return found


def _blocked_for(vm: Vm, source: Host | None, hosts: tuple[Host, ...]) -> Blocked:
    blocked: dict[str, str] = {}
    for host in hosts:
        problems = [p for p in (network_problem(vm, host), cpu_problem(vm, source, host),
                                migration_problem(host)) if p is not None]
        if problems:
            blocked[host.name] = "; ".join(problems)
    return blocked


def network_problem(vm: Vm, host: Host) -> str | None:
    """The VM's networks that ``host`` lacks (after the network map), or None."""
    if host.networks is None or not vm.networks:
        return None
    missing = sorted(vm.networks - host.networks)
    if not missing:
        return None
    return f"{host.name} lacks network {', '.join(missing)} (no [[network_map]] row maps it to one there)"


def cpu_problem(vm: Vm, source: Host | None, host: Host) -> str | None:
    """Why ``host`` cannot run the VM's CPU definition, or None (pre-flight's CPU compatibility check)."""
    if vm.cpu_mode == "custom" and vm.cpu_model and host.cpu_models is not None:
        if vm.cpu_model not in host.cpu_models:
            return f"{host.name} cannot run CPU model {vm.cpu_model}"
        return None
    group = source.cpu_group if source is not None else ""
    if vm.cpu_mode in _HOST_BOUND and group and host.cpu_group and host.cpu_group != group:
        return (f"{host.name} is in CPU group {host.cpu_group}; a {vm.cpu_mode} guest stays in its host's "
                f"group {group}")
    return None


def migration_problem(host: Host) -> str | None:
    """Why ``host`` cannot be reached on the migration network, or None."""
    if not host.migration_problem:
        return None
    return f"{host.name} is not reachable on the migration network: {host.migration_problem}"
