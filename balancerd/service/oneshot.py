"""One proposal without a daemon, for ``balancerd plan``: the same parts the daemon uses, run once.

Takes two collections apart so that CPU rates exist (they are counter deltas), then plans exactly as a cycle does.
The gap between them (:func:`sample_gap`): on the simulated backend the one the daemon's first cycle has,
``min(interval, 2 s)`` of wall time in clock time, but stepped over at once instead of waited for
(:class:`SteppedClock`), because the sim integrates its counters from the clock it is given; on libvirt 0.5 s of
wall time (the daemon waits 2 s). libvirt's CPU-time counters count nanoseconds, and each reading is stamped just
before its call, so a rate is off by the difference in call latency between the two samples over the gap: 1 % per 5
ms of difference at 0.5 s (a host's gap also includes the time the first collection took after that host, so it is
never shorter). A rate over 0.5 s follows bursts more than one over 2 s; with one sample the forecast is that sample
either way. It reads the configured journal for cooldowns and the failure memory when one exists (a scratch journal
otherwise) and writes nothing. For ``balancerctl drain --check HOST`` with no daemon running,
:func:`drain_check_once` computes the drain proof the same way on such a fresh collection. For ``balancerd plan
--explain VM`` it also runs the executor's pre-flight of the VM's planned move
(:func:`balancerd.execute.preflight.decide`) against the backend, without starting anything. ``balancerd import``
places on such a collection (:func:`collected_once`).
"""

from __future__ import annotations

import contextlib
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from balancerd import journal as journal_mod
from balancerd.backends.base import Hypervisor
from balancerd.clock import Clock
from balancerd.config import Config
from balancerd.errors import BackendError
from balancerd.execute import preflight
from balancerd.model import ClusterSnapshot, Evacuation, Forecast, Move
from balancerd.service.cycle import CycleRunner, Proposal
from balancerd.service.wiring import make_backend, make_clock

FIRST_CYCLE_WALL_S = 2.0
"""The daemon's first cycle comes this much wall time after its first sample (or one interval if shorter)."""
LIBVIRT_GAP_S = 0.5
"""Wall seconds between the two samples on libvirt: enough for a nanosecond counter to give a usable rate."""


@dataclass(frozen=True, slots=True)
class Preflight:
    """The pre-flight of one planned move: the decision, or why it could not be made (``error``)."""

    move: Move
    decision: preflight.Decision | None
    error: str | None = None


def propose_once(config: Config) -> tuple[Proposal, Forecast]:
    """Collect twice, predict, plan; nothing is executed or recorded."""
    with _runner(config) as runner:
        return _propose(runner)


def explain_once(config: Config, vm: str) -> tuple[Proposal, tuple[str, ...], tuple[Preflight, ...]]:
    """Like :func:`propose_once`, plus why ``vm`` moves or stays (the daemon's ``explain`` on this proposal) and
    the pre-flight of every move of ``vm`` in the plan."""
    with _runner(config) as runner:
        proposal, _forecast = _propose(runner)
        now = runner.clock.now()
        checked = tuple(check_move(runner.backend, config, move, now) for move in proposal.plan.moves if move.vm == vm)
        return proposal, runner.explain(proposal, vm), checked


def drain_check_once(config: Config, host: str) -> tuple[Evacuation, ClusterSnapshot]:
    """The drain proof of ``host`` on a fresh collection, as the daemon would compute it; nothing changes."""
    with _runner(config) as runner:
        proposal, _forecast = _propose(runner)
        return runner.check_drain(proposal, host), proposal.collected.snapshot


@contextlib.contextmanager
def collected_once(config: Config) -> Iterator[tuple[CycleRunner, Proposal]]:
    """A fresh collection, forecast and plan as :func:`propose_once` makes them, with the runner (its backend and
    journal) still open: ``balancerd import`` places a new VM on it and uploads through ``runner.backend``."""
    with _runner(config) as runner:
        proposal, _forecast = _propose(runner)
        yield runner, proposal


def check_move(backend: Hypervisor, config: Config, move: Move, now: float) -> Preflight:
    """The executor's pre-flight of ``move`` at ``now`` (no moves in flight: this process runs none)."""
    settings = preflight.Settings.of(config)
    try:
        facts = backend.preflight(preflight.probe_request(move, settings))
    except BackendError as exc:
        return Preflight(move, None, f"pre-flight could not run: {exc}")
    return Preflight(move, preflight.decide(move, facts, settings, 0, now))


def sample_gap(config: Config) -> float:
    """Clock seconds between the two samples: the daemon's first-cycle gap on the sim, 0.5 s on libvirt."""
    if config.backend == "sim":
        return min(config.interval_s, FIRST_CYCLE_WALL_S * config.sim.speed)
    return min(config.interval_s, LIBVIRT_GAP_S)


class SteppedClock:
    """A clock that reads ``inner`` and whose ``sleep`` steps it forward without waiting.

    For the simulated backend only: its counters and migrations follow whatever clock they are given, so
    stepping over the gap yields the samples waiting would have yielded, without the wall time.
    """

    def __init__(self, inner: Clock) -> None:
        self._inner = inner
        self._ahead = 0.0

    def now(self) -> float:
        return self._inner.now() + self._ahead

    def sleep(self, seconds: float) -> None:
        self._ahead += max(0.0, seconds)


def _propose(runner: CycleRunner) -> tuple[Proposal, Forecast]:
    runner.prime()
    runner.clock.sleep(sample_gap(runner.config))
    proposal = runner.propose()
    return proposal, proposal.forecast


def _clock(config: Config) -> Clock:
    """The configured clock; on the sim stepped over the gap between samples instead of waiting."""
    clock = make_clock(config)
    return SteppedClock(clock) if config.backend == "sim" else clock


@contextlib.contextmanager
def _runner(config: Config) -> Iterator[CycleRunner]:
    """A cycle runner over a fresh backend and a read-only view of the journal; closed afterwards."""
    clock = _clock(config)
    backend = make_backend(config, clock)
    with tempfile.TemporaryDirectory(prefix="balancerd-plan-") as tmp:
        journal = journal_mod.Journal(_journal_path(config, Path(tmp)))
        try:
            yield CycleRunner(config, backend, clock, journal)
        finally:
            journal.close()
            backend.close()


def _journal_path(config: Config, scratch: Path) -> Path:
    """Read cooldowns and failures from the daemon's journal when there is one; else an empty scratch journal."""
    return config.paths.journal if config.paths.journal.exists() else scratch / "journal.sqlite"
