"""The maintenance set as the daemon uses it: the file's hosts, or the last good set when the file is broken.

:class:`~balancerd.service.cycle.CycleRunner` reads it every cycle and right before every move (its guard).
A file that cannot be read (binary content, a symlink, a FIFO, ...) must not stop balancing and drains: the
last good set stays in force and the problem is reported (the cycle's errors, the status file, a log line and
``balancerd_maintenance_file_errors_total``). A name that is not a known host is reported the same way, so a
typo never silently drains nothing; the known names in the file still apply. ``fixed`` hosts are in
maintenance whatever the file says: the hosts a described simulated cluster marks ``maintenance = true``
(:func:`balancerd.service.wiring.fixed_maintenance`).
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
        self._last_good: frozenset[str] = frozenset()
        self.problem: str | None = None

    @property
    def path(self) -> Path:
        return self._path

    def read(self, *, report: bool = True) -> frozenset[str]:
        """Hosts in maintenance now; ``report`` logs a problem (the cycle's read, not every guard check)."""
        try:
            flags = maintenance.read(self._path)
        except StateError as exc:
            return self._keep(f"{exc}; keeping the last good maintenance set "
                              f"({', '.join(sorted(self._last_good)) or 'none'})", report)
        known = frozenset(self._known())
        unknown = sorted(flags - known)
        self._last_good = flags & known
        self.problem = None
        if unknown:
            self.problem = (f"maintenance file {self._path} names unknown host(s) {', '.join(unknown)} "
                            f"(known: {', '.join(sorted(known))}); fix the name or remove the line")
            if report:
                log.error("maintenance file problem", problem=self.problem)
        return self._last_good | self._fixed

    def _keep(self, problem: str, report: bool) -> frozenset[str]:
        self.problem = problem
        if report:
            log.error("maintenance file problem", problem=problem)
        return self._last_good | self._fixed
