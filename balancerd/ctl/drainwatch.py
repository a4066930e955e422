"""Following a drain from outside the daemon: progress, ETA, and the verdict drained / failed / stalled.

``balancerctl drain HOST --wait`` (:mod:`balancerd.ctl.cli`) calls :func:`follow`, which polls the daemon's status
file (its ``drains`` entry, see :mod:`balancerd.service.status`) through an injected reader and
:class:`~balancerd.clock.Clock`, hands every changed :class:`Progress` to a sink (the progress bar or JSON
lines) and returns a :class:`Verdict` with the exit code:

* ``drained`` (0): no VM is left on the host;
* ``not running`` (3): the daemon stopped while we waited;
* ``failed`` (4): ``max_failures`` migrations away from the host failed or were aborted since we started;
* ``stalled`` (5): the daemon only recommends (mode ``recommend``), or nothing was planned or running from the
  host for ``stuck_cycles`` cycles (the reasons the planner gave are reported), or no VM left the host for
  ``stall_timeout_s`` seconds;
* ``refused`` (5): the drain proof of a cycle after the watch began (``drains[host].proof``) says the whole
  evacuation does not fit and the drain is not forced: no VM will leave (the blockers are reported).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from balancerd.clock import Clock

EXIT_DRAINED = 0
EXIT_NOT_RUNNING = 3
EXIT_FAILED = 4
EXIT_STALLED = 5

StatusReader = Callable[[], tuple[dict[str, Any] | None, bool]]
"""Returns (the status document or None when there is none yet, whether the daemon runs)."""


@dataclass(frozen=True, slots=True)
class WatchLimits:
    """When a drain counts as failed or stalled."""

    stall_timeout_s: float = 900.0
    max_failures: int = 3
    stuck_cycles: int = 3
    poll_s: float = 0.5


@dataclass(frozen=True, slots=True)
class Progress:
    """Where a drain stands: what is left, what there was when we started watching, and an ETA."""

    host: str
    vms: int
    mem_mib: int
    total_vms: int
    total_mem_mib: int
    in_flight: int
    cycle: int
    elapsed_s: float
    eta_s: float | None

    @property
    def fraction(self) -> float:
        """Share already moved away (by memory when known, else by VM count)."""
        if self.total_mem_mib > 0:
            return 1.0 - self.mem_mib / self.total_mem_mib
        return 1.0 - self.vms / self.total_vms if self.total_vms > 0 else 1.0


@dataclass(frozen=True, slots=True)
class Verdict:
    """How a drain ended, for the operator and the exit code."""

    result: str
    reason: str
    exit_code: int


class DrainWatch:
    """Turns successive status documents into progress and, eventually, a verdict."""

    def __init__(self, host: str, clock: Clock, limits: WatchLimits) -> None:
        self.host = host
        self._clock = clock
        self._limits = limits
        self._start = clock.now()
        self._last_change = self._start
        self._seen_failures: set[tuple[str, float]] | None = None
        self._new_failures: list[dict[str, Any]] = []
        self._total = (0, 0)
        self._first: tuple[int, int] | None = None
        self._left: tuple[int, int] | None = None
        self._stuck_cycles: set[int] = set()
        self._first_cycle: int | None = None

    def observe(self, doc: dict[str, Any] | None, running: bool) -> tuple[Progress | None, Verdict | None]:
        """Progress (None until the daemon reports the drain) and a verdict once there is one."""
        if not running:
            return None, Verdict("not running", "balancerd stopped while the host was draining", EXIT_NOT_RUNNING)
        if doc is not None and self._first_cycle is None:
            self._first_cycle = int(doc.get("cycle", 0))
        drain = (doc or {}).get("drains", {}).get(self.host)
        if doc is None or drain is None:
            return None, self._timeout()
        progress = self._progress(doc, drain)
        return progress, self._verdict(doc, drain, progress)

    def _progress(self, doc: dict[str, Any], drain: dict[str, Any]) -> Progress:
        now = self._clock.now()
        left = (int(drain["vms"]), int(drain["mem_mib"]))
        at_start = (int(drain.get("vms_at_start", 0)), int(drain.get("mem_mib_at_start", 0)))  # when it began
        self._total = (max(self._total[0], left[0], at_start[0]), max(self._total[1], left[1], at_start[1]))
        self._first = self._first or left
        if self._left is not None and left < self._left:
            self._last_change = now
            self._stuck_cycles.clear()
        self._left = left
        return Progress(self.host, left[0], left[1], self._total[0], self._total[1], int(drain["in_flight"]),
                        int(doc.get("cycle", 0)), now - self._start, self._eta(now, left))

    def _eta(self, now: float, left: tuple[int, int]) -> float | None:
        elapsed = now - self._start
        first = self._first or left  # the rate is what this watcher saw move, not what left before it began
        by_mem = self._total[1] > 0
        done = first[1] - left[1] if by_mem else first[0] - left[0]
        remaining = left[1] if by_mem else left[0]
        if done <= 0 or elapsed <= 0:
            return None
        return remaining / (done / elapsed)

    def _verdict(self, doc: dict[str, Any], drain: dict[str, Any], progress: Progress) -> Verdict | None:
        if progress.vms == 0:
            return Verdict("drained", f"{self.host} is empty", EXIT_DRAINED)
        if doc.get("mode") == "recommend":
            return Verdict("stalled", "balancerd runs in mode 'recommend': it plans the drain but does not "
                           "migrate (set mode = \"enforce\")", EXIT_STALLED)
        return self._refused(doc, drain) or self._failed(drain) or self._stuck(doc, drain) or self._timeout()

    def _refused(self, doc: dict[str, Any], drain: dict[str, Any]) -> Verdict | None:
        """The proof refuses the drain, in a cycle after the first one seen (an older one may predate a force)."""
        proof = drain.get("proof") or {}
        if proof.get("feasible", True) or proof.get("forced") or int(doc.get("cycle", 0)) <= (self._first_cycle or 0):
            return None
        blockers = proof.get("blockers", [])
        details = "; ".join(f"{b['vm']}: {b['reason']}" for b in blockers[:3])
        more = f" (and {len(blockers) - 3} more)" if len(blockers) > 3 else ""
        return Verdict("refused", f"the evacuation of {self.host} does not fit, so no VM leaves it: {len(blockers)} "
                       f"VM(s) with nowhere to go: {details}{more}; 'balancerctl drain --force {self.host}' drains "
                       "what fits", EXIT_STALLED)

    def _failed(self, drain: dict[str, Any]) -> Verdict | None:
        current = {(f["vm"], f["finished_at"]): f for f in drain.get("failures", [])}
        if self._seen_failures is None:
            self._seen_failures = set(current)
        for key in sorted(set(current) - self._seen_failures, key=lambda k: k[1]):
            self._seen_failures.add(key)
            self._new_failures.append(current[key])
        if len(self._new_failures) < self._limits.max_failures:
            return None
        last = self._new_failures[-1]
        reason = (f"{len(self._new_failures)} migrations from {self.host} failed; last: {last['vm']} -> "
                  f"{last['dest']} {last['outcome']}: {last['detail']}")
        return Verdict("failed", reason, EXIT_FAILED)

    def _stuck(self, doc: dict[str, Any], drain: dict[str, Any]) -> Verdict | None:
        if drain.get("planned", 0) or drain.get("in_flight", 0):
            self._stuck_cycles.clear()
            return None
        self._stuck_cycles.add(int(doc.get("cycle", 0)))
        if len(self._stuck_cycles) < self._limits.stuck_cycles:
            return None
        return Verdict("stalled", _stuck_reason(self.host, drain, len(self._stuck_cycles)), EXIT_STALLED)

    def _timeout(self) -> Verdict | None:
        quiet = self._clock.now() - self._last_change
        if quiet < self._limits.stall_timeout_s:
            return None
        return Verdict("stalled", f"no VM left {self.host} for {quiet:.0f} s", EXIT_STALLED)


def _stuck_reason(host: str, drain: dict[str, Any], cycles: int) -> str:
    head = f"nothing planned or running away from {host} for {cycles} cycles"
    if not drain.get("reachable", True):
        return f"{head}: {host} is unreachable"
    blocked = drain.get("blocked", [])
    if not blocked:
        return head
    details = "; ".join(f"{b['vm']}: {', '.join(b['reasons'])}" for b in blocked[:3])
    more = f" (and {len(blocked) - 3} more)" if len(blocked) > 3 else ""
    return f"{head}: {details}{more}"


def follow(watch: DrainWatch, read: StatusReader, clock: Clock, sink: Callable[[Progress], None],
           poll_s: float) -> Verdict:
    """Poll until there is a verdict; call ``sink`` with each progress that differs from the last."""
    shown: tuple[int, int, int] | None = None
    while True:
        doc, running = read()
        progress, verdict = watch.observe(doc, running)
        if progress is not None and (progress.vms, progress.mem_mib, progress.in_flight) != shown:
            shown = (progress.vms, progress.mem_mib, progress.in_flight)
            sink(progress)
        if verdict is not None:
            return verdict
        clock.sleep(poll_s)


def bar(progress: Progress, width: int = 24) -> str:
    """``host02 [#########---------------]  37%  5 VMs left  9.5 GiB left  ETA 1m05s  2 in flight``."""
    filled = round(progress.fraction * width)
    eta = "ETA " + duration(progress.eta_s) if progress.eta_s is not None else "ETA ?"
    return (f"{progress.host} [{'#' * filled}{'-' * (width - filled)}] {progress.fraction * 100:3.0f}%  "
            f"{progress.vms} VMs left  {progress.mem_mib / 1024:.1f} GiB left  {eta}  {progress.in_flight} in flight")


def duration(seconds: float) -> str:
    """``45s``, ``3m05s``, ``2h10m``."""
    total = max(0, round(seconds))
    if total < 60:
        return f"{total}s"
    if total < 3600:
        return f"{total // 60}m{total % 60:02d}s"
    return f"{total // 3600}h{total % 3600 // 60:02d}m"
