"""The shape of the simulated cluster: ``[sim]`` and a described cluster file (``[sim] cluster``: its hosts,
VMs and rules).

Part of the configuration's shape (:class:`balancerd.config.schema.Config` holds a :class:`SimConfig`); the file
is read by :mod:`balancerd.config.cluster` and turned into simulated hosts and VMs by :mod:`balancerd.backends.sim`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from balancerd.config.fields import Amounts, opt
from balancerd.config.rules import RuleConfig

CPU_MODES = ("", "custom", "host-model", "host-passthrough", "maximum")
"""A described VM's ``cpu_mode`` (libvirt's ``<cpu mode=...>``; "" = not known)."""


@dataclass(frozen=True, slots=True)
class ClusterHostConfig:
    """One ``[[hosts]]`` entry of a described cluster file (``[sim] cluster``).

    ``networks`` / ``cpu_models`` omitted = every network / CPU model; ``pools``: storage pool name -> free MiB;
    ``resources``: named resource -> capacity.
    """

    name: str = opt("", required=True)
    cpus: int = opt(1, lo=1, hi=100_000, required=True)
    memory_mib: int = opt(1, lo=1, required=True)
    networks: tuple[str, ...] | None = opt(None)
    cpu_group: str = opt("")
    cpu_models: tuple[str, ...] | None = opt(None)
    maintenance: bool = opt(False)
    pools: Amounts = opt(())
    resources: Amounts = opt(())


@dataclass(frozen=True, slots=True)
class ClusterVmConfig:
    """One ``[[vms]]`` entry of a described cluster file: its size, use, facts, disks and named resources.

    ``cpu_pct``: CPU use in percent of its vCPUs; ``disks``: storage pool name -> MiB of its local disks there;
    ``resources``: named resource -> demand.
    """

    name: str = opt("", required=True)
    host: str = opt("", required=True)
    vcpus: int = opt(1, lo=1, hi=100_000, required=True)
    memory_mib: int = opt(1, lo=1, required=True)
    cpu_pct: float = opt(0.0, lo=0.0, hi=100.0)
    mem_used_pct: float = opt(60.0, lo=0.0, hi=100.0)
    dirty_rate_mib_s: int = opt(0, lo=0)
    live_migratable: bool = opt(True)
    networks: tuple[str, ...] = opt(())
    cpu_mode: str = opt("", choices=CPU_MODES)
    cpu_model: str = opt("")
    disks: Amounts = opt(())
    resources: Amounts = opt(())


@dataclass(frozen=True, slots=True)
class SimConfig:
    """The simulated cluster (backend = "sim"): drawn from a seed, or described in a file (``cluster``)."""

    hosts: int = opt(20, lo=1, hi=100_000)
    vms: int = opt(400, lo=0, hi=1_000_000)
    host_cpu_m: int = opt(32_000, lo=1)
    host_mem_mib: int = opt(131_072, lo=1)
    trace: str = opt("bundled")
    trace_step_s: int = opt(300, lo=1)
    seed: int = opt(1, lo=0)
    speed: float = opt(1.0, lo=0.001, hi=1_000_000.0)
    skew: float = opt(0.0, lo=0.0, hi=1.0)
    cluster: Path | None = opt(None, path=True)
    """A described cluster file (TOML: hosts, VMs, rules); None = draw the cluster from the keys above."""
    described: ClusterFile | None = field(default=None, metadata={"internal": True})
    """What ``cluster`` holds, read when the config loads (:mod:`balancerd.config.cluster`)."""


SEEDED_SIM_KEYS = ("hosts", "vms", "host_cpu_m", "host_mem_mib", "seed", "skew", "trace")
"""``[sim]`` keys a described cluster (``cluster``) replaces: setting one of them beside it is an error
(``trace_step_s`` stays: the step of a ``balancerd simulate`` replay on the described cluster)."""


@dataclass(frozen=True, slots=True)
class ClusterFile:
    """A described cluster file (``[sim] cluster``): its hosts, its VMs and placement rules.

    ``rules`` have the shape of ``[[policy.rules]]`` and are appended to them when the config loads.
    """

    hosts: tuple[ClusterHostConfig, ...] = opt(())
    vms: tuple[ClusterVmConfig, ...] = opt(())
    rules: tuple[RuleConfig, ...] = opt(())
    source: Path = field(default=Path("<table>"), metadata={"internal": True})

    @property
    def maintenance(self) -> frozenset[str]:
        """The hosts the file puts in maintenance."""
        return frozenset(h.name for h in self.hosts if h.maintenance)
