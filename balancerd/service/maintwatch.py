"""The maintenance set as the daemon uses it: the file's hosts, or the last good set when the file is broken.

:class:`~balancerd.service.cycle.CycleRunner` reads it every cycle and right before every move (its guard).
A file that cannot be read (binary content, a symlink, a FIFO, ...) must not stop balancing and drains: the
last good set stays in force and the problem is reported (the cycle's errors, the status file, a log line and
``balancerd_maintenance_file_errors_total``). A name that is not a known host is reported the same way, so a
typo never silently drains nothing; the known names in the file still apply. ``fixed`` hosts are in
maintenance whatever the file says: the hosts a described simulated cluster marks ``maintenance = true``
(``Config.fixed_maintenance``). :attr:`MaintenanceWatch.order` and
:attr:`MaintenanceWatch.forced` are what the drain proof needs: the order hosts entered maintenance (file
order, fixed hosts after) and the hosts marked ``force``.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import structlog

from balancerd import maintenance
from balancerd.errors import StateError

log = structlog.get_logger("balancerd.maintenance")


class MaintenanceWatch:
    """Reads the maintenance file, never raising; remembers the last good set and the current problem."""

    def __init__(self, path: Path, known: Callable[[], tuple[str, ...]], fixed: frozenset[str] = frozenset()) -> None:
        self._path = path
        self._known = known
        self._fixed = fixed
        self._last_good: tuple[tuple[str, bool], ...] = ()
        self.problem: str | None = None

    @property
    def order(self) -> tuple[str, ...]:
        """Hosts in maintenance in the order they entered it (the last good file's order, then fixed ones)."""
        listed = tuple(host for host, _ in self._last_good)
        return listed + tuple(sorted(self._fixed - set(listed)))

    @property
    def forced(self) -> frozenset[str]:
        """Hosts whose drain goes ahead even when their evacuation does not fit (``drain --force``)."""
        return frozenset(host for host, force in self._last_good if force)

    @property
    def path(self) -> Path:
        return self._path

    def read(self, *, report: bool = True) -> frozenset[str]:
        """Hosts in maintenance now; ``report`` logs a problem (the cycle's read, not every guard check)."""
        try:
            listed = maintenance.read_entries(self._path)
        except StateError as exc:
            return self._keep(f"{exc}; keeping the last good maintenance set "
                              f"({', '.join(self.order) or 'none'})", report)
        known = frozenset(self._known())
        unknown = sorted({host for host, _ in listed} - known)
        self._last_good = tuple((host, force) for host, force in listed if host in known)
        self.problem = None
        if unknown:
            self.problem = (f"maintenance file {self._path} names unknown host(s) {', '.join(unknown)} "
                            f"(known: {', '.join(sorted(known))}); fix the name or remove the line")
            if report:
                log.error("maintenance file problem", problem=self.problem)
        return self._current()

    def _current(self) -> frozenset[str]:
        return frozenset(host for host, _ in self._last_good) | self._fixed

    def _keep(self, problem: str, report: bool) -> frozenset[str]:
        self.problem = problem
        if report:
            log.error("maintenance file problem", problem=problem)
        return self._current()
