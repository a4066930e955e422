"""A simulated cluster from the config's ``[sim]`` table: host names, seeded VM sizes, trace-driven demand, or
the cluster a file describes (``[sim] cluster``, :mod:`balancerd.backends.sim.described`).

Called by :meth:`balancerd.backends.sim.cluster.SimCluster.from_config` (the demo, ``balancerd plan`` and
``run`` on ``backend = "sim"``) and by ``balancerctl`` (:func:`host_names`, to check names without a cluster).
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass

from balancerd.backends.sim.described import cluster_specs
from balancerd.backends.sim.placement import Demand, draw_sizes, pick_skewed, place
from balancerd.backends.sim.specs import SimHost, SimVm
from balancerd.config import SimConfig
from balancerd.traces import Trace, load_trace


def configured(cfg: SimConfig, start: float) -> tuple[list[SimHost], list[SimVm]]:
    """The described cluster when ``cfg.cluster`` is set; else ``cfg.hosts`` hosts and ``cfg.vms`` trace-driven
    VMs, placed feasibly and skewed by ``cfg.skew``."""
    if cfg.described is not None:
        return cluster_specs(cfg.described)
    trace = load_trace(cfg.trace, cfg.trace_step_s)
    hosts = [SimHost(name, max(1, cfg.host_cpu_m // 1000), cfg.host_mem_mib) for name in host_names(cfg)]
    return hosts, _configured_vms(cfg, hosts, trace, start)


def host_names(cfg: SimConfig) -> tuple[str, ...]:
    """Names of the hosts of a configured simulated cluster (what balancerctl checks names against)."""
    if cfg.described is not None:
        return tuple(h.name for h in cfg.described.hosts)
    return tuple(_names("host", cfg.hosts, 2))


def _names(prefix: str, count: int, min_width: int) -> list[str]:
    """``prefix`` + 1..count, zero-padded to the width of ``count`` (at least ``min_width`` digits)."""
    width = max(min_width, len(str(count)))
    return [f"{prefix}{i:0{width}d}" for i in range(1, count + 1)]


def _configured_vms(cfg: SimConfig, hosts: Sequence[SimHost], trace: Trace, start: float) -> list[SimVm]:
    """The VMs of a configured cluster: seeded sizes, trace-driven demand, a feasible skewed placement."""
    rng = random.Random(cfg.seed)
    draws = draw_sizes(cfg.vms, hosts[0].cpus, cfg.host_mem_mib, rng)
    demands = [Demand(d.memory_mib, d.vcpus * 10 * trace.value(i % len(trace), 0.0))
               for i, d in enumerate(draws)]
    skewed = pick_skewed(cfg.vms, cfg.skew, rng)
    where = place(demands, [h.memory_mib for h in hosts], [h.cpus * 1000 for h in hosts], skewed)
    names = _names("vm", cfg.vms, 4)
    return [SimVm(name=names[i], host=hosts[where[i]].name, vcpus=d.vcpus, memory_mib=d.memory_mib,
                  cpu_pct=TraceDemand(trace, i % len(trace), start), mem_used_pct=d.mem_used_pct,
                  dirty_rate_mib_s=d.dirty_rate_mib_s) for i, d in enumerate(draws)]


@dataclass(frozen=True, slots=True)
class TraceDemand:
    """CPU demand of a configured VM: its trace series, with trace time = clock time since ``start``."""

    trace: Trace
    index: int
    start: float

    def __call__(self, now: float) -> float:
        return float(self.trace.value(self.index, now - self.start))
