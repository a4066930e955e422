"""What the daemon lets each plan start beyond the policy: the per-VM cooldown, the per-VM daily cap, blackout
windows and the back-off after external moves (issue 21 item 2).

:class:`balancerd.service.cycle.CycleRunner` owns one :class:`MoveLimits`. Every cycle it reads the clock and
the journal here and hands the planner values (the cooldown set and an :class:`~balancerd.optimize.limits.Limits`),
so ``optimize`` stays pure; the daemon's cycles (``CycleRunner.step``) also look for external moves here
(:mod:`balancerd.service.external`), which are logged, recorded in the journal and counted by the metrics. The
execution guard asks :meth:`MoveLimits.refuses` right before each move, so a blackout window that opens, a
back-off that begins or a cap that another plan's move reached stops a move that was planned before.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Collection
from datetime import UTC, datetime

import structlog

from balancerd import blackout
from balancerd.config import PolicyConfig
from balancerd.journal import Journal
from balancerd.model import ClusterSnapshot, ExternalMove, Move, Outcome, Purpose
from balancerd.optimize.limits import EVERY_PURPOSE, Limits
from balancerd.service import external

log = structlog.get_logger("balancerd.limits")

DAY_S = 86_400.0
"""The per-VM cap counts the moves of the last 24 hours (a rolling day, never more than the cap in any day)."""


class MoveLimits:
    """The limits of one daemon: its journal, its policy, and the placement the last observed cycle saw."""

    def __init__(self, journal: Journal, policy: PolicyConfig) -> None:
        self._journal = journal
        self._policy = policy
        self._windows: tuple[blackout.Blackout, ...] = ()
        self.reconfigure(policy)
        self._placement: dict[str, str] | None = None
        self._seen_at = 0.0
        self._backing_off = False

    def reconfigure(self, policy: PolicyConfig) -> None:
        """Take a reloaded ``[policy]`` (validated when it loaded)."""
        self._policy = policy
        self._windows = tuple(blackout.parse(w.days, w.start, w.end, w.tz, w.allow) for w in policy.blackout)

    def observe(self, snapshot: ClusterSnapshot, moving: Collection[str]) -> tuple[ExternalMove, ...]:
        """The external moves since the last observed collection (none on the first): VMs on another host whose
        change no balancerd move explains (``moving``: the VMs in flight now). Logged and recorded."""
        before, since = self._placement, self._seen_at
        self._placement, self._seen_at = external.placement(snapshot), snapshot.taken_at
        if before is None:
            return ()
        ours = {e.vm for e in (*self._journal.recent_moves(since), *self._journal.unfinished())} | set(moving)
        found = external.detect(before, snapshot, ours)
        for move in found:
            log.warning("external move", vm=move.vm, source=move.source, dest=move.dest,
                        cooldown_s=self._policy.cooldown_s)
        if found:
            self._journal.record_external(found)
        return found

    def cooldown(self, now: float) -> frozenset[str]:
        """VMs moved, by balancerd or from outside, within ``cooldown_s`` before ``now``."""
        since = now - self._policy.cooldown_s
        ours = {e.vm for e in self._journal.recent_moves(since) if e.outcome is Outcome.SUCCEEDED}
        return frozenset(ours | {m.vm for m in self._journal.external_moves(since)})

    def for_plan(self, now: float) -> Limits:
        """What a plan made at ``now`` may start, why the rest waits, and the VMs at their daily cap."""
        allowed, held = set(EVERY_PURPOSE), []
        window = blackout.in_force(self._windows, now)
        if window is not None:
            allowed &= window.allowed
            held.append(window.describe())
        backoff = self._backoff(now)
        self._log_backoff(bool(backoff), now)
        if backoff:
            allowed.discard(Purpose.BALANCE)
            held.append(backoff)
        recent = self._recent(now)
        cap = self._policy.max_moves_per_vm_per_day
        return Limits(frozenset(allowed), tuple(held), tuple((vm, n) for vm, n in recent if n >= cap), recent)

    def refuses(self, move: Move, now: float) -> str | None:
        """Why ``move`` may not start at ``now`` (the execution guard), or None."""
        window = blackout.in_force(self._windows, now)
        if window is not None and move.purpose not in window.allowed:
            return f"{window.describe()} ({move.purpose.value} moves wait)"
        if move.purpose is not Purpose.BALANCE:
            return None
        backoff = self._backoff(now)
        if backoff:
            return backoff
        cap = self._policy.max_moves_per_vm_per_day
        moves = self._journal.moves_of(move.vm, now - DAY_S) if cap else 0
        if cap and moves >= cap:
            return f"{move.vm} moved {moves} time(s) in the last 24 h, the cap (max_moves_per_vm_per_day = {cap})"
        return None

    def _recent(self, now: float) -> tuple[tuple[str, int], ...]:
        """Every VM's successful moves in the last 24 hours, when a cap is set."""
        if not self._policy.max_moves_per_vm_per_day:
            return ()
        counts = Counter(e.vm for e in self._journal.recent_moves(now - DAY_S) if e.outcome is Outcome.SUCCEEDED)
        return tuple(sorted(counts.items()))

    def _backoff(self, now: float) -> str:
        """Why balancing backs off at ``now`` after external moves ("" when it does not)."""
        policy = self._policy
        if not policy.external_moves_backoff:
            return ""
        seen = self._journal.external_moves(now - external.WINDOW_S - policy.external_backoff_s)
        until = external.backoff_until([m.seen_at for m in seen], policy.external_moves_backoff,
                                       policy.external_backoff_s)
        if until is None or until <= now:
            return ""
        return (f"balancing backs off until {_when(until)}: more than {policy.external_moves_backoff} "
                f"VMs were moved by something else than balancerd within an hour (external_moves_backoff)")

    def _log_backoff(self, backing_off: bool, now: float) -> None:
        """Log when a back-off begins and ends (the cycle's thread only: the guard does not log)."""
        if backing_off != self._backing_off:
            if backing_off:
                log.warning("balancing backs off", reason="external moves", limit=self._policy.external_moves_backoff,
                            vms=sorted({m.vm for m in self._journal.external_moves(now - external.WINDOW_S)})[:10])
            else:
                log.info("balancing resumes after external moves")
        self._backing_off = backing_off


def _when(epoch_s: float) -> str:
    return datetime.fromtimestamp(epoch_s, UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
