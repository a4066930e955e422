"""Resource vectors: CPU in millicores, memory in MiB, named resources beside them (``balancerd.model``).

Every stage adds and compares :class:`Resources`; the collector builds them, the optimizer sums them per host.
Nothing here does I/O.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

Extra = tuple[tuple[str, int], ...]
"""Named resources beyond CPU and memory (e.g. ``(("disk_gib", 40), ("net_mbit", 100))``), sorted by name."""


def _merge_extra(a: Extra, b: Extra, sign: int) -> Extra:
    """``a + sign * b`` per name (names in either), sorted by name."""
    merged = dict(a)
    for name, amount in b:
        merged[name] = merged.get(name, 0) + sign * amount
    return tuple(sorted(merged.items()))


@dataclass(frozen=True, slots=True)
class Resources:
    """A resource vector: CPU in millicores, memory in MiB, and optional named resources in ``extra``.

    ``extra`` holds any further resource (network, local disk, ...) as sorted ``(name, amount)`` pairs; a
    name missing from one side counts as 0 (for a capacity: a host without that resource has none of it).
    """

    cpu_m: int = 0
    mem_mib: int = 0
    extra: Extra = ()

    def __add__(self, other: Resources) -> Resources:
        extra = _merge_extra(self.extra, other.extra, 1) if self.extra or other.extra else ()
        return Resources(self.cpu_m + other.cpu_m, self.mem_mib + other.mem_mib, extra)

    def __sub__(self, other: Resources) -> Resources:
        extra = _merge_extra(self.extra, other.extra, -1) if self.extra or other.extra else ()
        return Resources(self.cpu_m - other.cpu_m, self.mem_mib - other.mem_mib, extra)

    def amount(self, name: str) -> int:
        """The amount of resource ``name``: "cpu_m", "mem_mib" or a name in ``extra`` (0 when absent)."""
        if name == "cpu_m":
            return self.cpu_m
        if name == "mem_mib":
            return self.mem_mib
        return dict(self.extra).get(name, 0)

    def fits_in(self, capacity: Resources) -> bool:
        """True when every component is at most the one of ``capacity``."""
        if not (self.cpu_m <= capacity.cpu_m and self.mem_mib <= capacity.mem_mib):
            return False
        return all(amount <= capacity.amount(name) for name, amount in self.extra if amount > 0)

    def scaled(self, permille: int) -> Resources:
        """This vector times ``permille`` / 1000, rounded down."""
        extra = tuple((name, amount * permille // 1000) for name, amount in self.extra)
        return Resources(self.cpu_m * permille // 1000, self.mem_mib * permille // 1000, extra)

    def max_with(self, other: Resources) -> Resources:
        names = sorted({n for n, _ in self.extra} | {n for n, _ in other.extra})
        extra = tuple((n, max(self.amount(n), other.amount(n))) for n in names)
        return Resources(max(self.cpu_m, other.cpu_m), max(self.mem_mib, other.mem_mib), extra)

    @staticmethod
    def total(items: Iterable[Resources]) -> Resources:
        cpu = mem = 0
        extra: Extra = ()
        for item in items:
            cpu += item.cpu_m
            mem += item.mem_mib
            if item.extra:
                extra = _merge_extra(extra, item.extra, 1)
        return Resources(cpu, mem, extra)


ZERO = Resources()

POOL_PREFIX = "pool:"
"""Named resource of a storage pool: ``pool:<directory>`` in ``Resources.extra``. On a host's capacity it is the
pool's available MiB plus what the local disks of the host's VMs in that directory hold; on a VM's size the MiB
of its local disks there (a live migration copies them into the destination's pool of the same directory)."""
