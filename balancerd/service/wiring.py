"""Building the parts a config asks for: the clock, the backend, the collector's capacity overrides, the hosts
a described simulated cluster puts in maintenance.

Called by the daemon at start and by ``balancerd plan``. The libvirt backend is imported lazily so that a
simulated run does not need libvirt at all; etcd's client only when ``[ha]`` asks for two heads.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TYPE_CHECKING

from balancerd.backends.base import Hypervisor
from balancerd.clock import Clock, ScaledClock, SystemClock
from balancerd.config import Config
from balancerd.journal import Journal
from balancerd.model import Resources

if TYPE_CHECKING:
    from balancerd.ha.leader import Role
    from balancerd.service.heads import Heads


def make_clock(config: Config) -> Clock:
    """Simulated clusters run on scaled time; real ones on the wall clock."""
    if config.backend == "sim":
        return ScaledClock(start=time.time(), speed=config.sim.speed)
    return SystemClock()


def clock_speed(clock: Clock) -> float:
    """How many clock seconds pass per wall second."""
    return clock.speed if isinstance(clock, ScaledClock) else 1.0


def make_backend(config: Config, clock: Clock) -> Hypervisor:
    """The Hypervisor implementation named by ``config.backend``."""
    if config.backend == "sim":
        from balancerd.backends.sim.cluster import SimCluster

        return SimCluster.from_config(config.sim, clock, link_mib_s=config.migration.link_mib_s)
    from balancerd.backends.libvirt.cluster import LibvirtCluster

    return LibvirtCluster.from_config(config, clock)


def capacity_overrides(config: Config) -> dict[str, Resources]:
    """Per-host capacities set in the config (both CPU and memory must be given to override)."""
    return {
        h.name: Resources(h.cpu_m, h.mem_mib)
        for h in config.hosts
        if h.cpu_m > 0 and h.mem_mib > 0
    }


def make_heads(config: Config, journal: Journal, on_role: Callable[[Role, Role], None]) -> Heads | None:
    """This head's part in an ``[ha]`` group (etcd's client is loaded only then), or None for a single head."""
    if not config.ha.enabled:
        return None
    from balancerd.service.heads import Heads

    return Heads(config, journal, on_role)
