"""One proposal without a daemon, for ``balancerd plan``: the same parts the daemon uses, run once.

Takes two collections ``min(interval, 2 s of wall time)`` apart so that rates exist, then plans. It reads
the configured journal for cooldowns when one exists (a scratch journal otherwise) and writes nothing.
For ``balancerd plan --explain VM`` it also runs the executor's pre-flight of the VM's planned move
(:func:`balancerd.execute.preflight.decide`) against the backend, without starting anything.
"""

from __future__ import annotations

import contextlib
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from balancerd import journal as journal_mod
from balancerd.backends.base import Hypervisor
from balancerd.config import Config
from balancerd.errors import BackendError
from balancerd.execute import preflight
from balancerd.model import Forecast, Move
from balancerd.service.cycle import CycleRunner, Proposal
from balancerd.service.wiring import clock_speed, make_backend, make_clock


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


def explain_once(config: Config, vm: str) -> tuple[Proposal, Forecast, tuple[Preflight, ...]]:
    """Like :func:`propose_once`, plus the pre-flight of every move of ``vm`` in the plan."""
    with _runner(config) as runner:
        proposal, forecast = _propose(runner)
        now = runner.clock.now()
        checked = tuple(check_move(runner.backend, config, move, now) for move in proposal.plan.moves if move.vm == vm)
        return proposal, forecast, checked


def check_move(backend: Hypervisor, config: Config, move: Move, now: float) -> Preflight:
    """The executor's pre-flight of ``move`` at ``now`` (no moves in flight: this process runs none)."""
    settings = preflight.Settings.of(config)
    try:
        facts = backend.preflight(preflight.probe_request(move, settings))
    except BackendError as exc:
        return Preflight(move, None, f"pre-flight could not run: {exc}")
    return Preflight(move, preflight.decide(move, facts, settings, 0, now))


def _propose(runner: CycleRunner) -> tuple[Proposal, Forecast]:
    runner.prime()
    runner.clock.sleep(min(runner.config.interval_s, 2.0 * clock_speed(runner.clock)))
    proposal = runner.propose()
    return proposal, runner.predictor.forecast()


@contextlib.contextmanager
def _runner(config: Config) -> Iterator[CycleRunner]:
    """A cycle runner over a fresh backend and a read-only view of the journal; closed afterwards."""
    clock = make_clock(config)
    backend = make_backend(config, clock)
    with tempfile.TemporaryDirectory(prefix="balancerd-plan-") as tmp:
        journal = journal_mod.Journal(_journal_path(config, Path(tmp)))
        try:
            yield CycleRunner(config, backend, clock, journal)
        finally:
            journal.close()
            backend.close()


def _journal_path(config: Config, scratch: Path) -> Path:
    """Read cooldowns from the daemon's journal when there is one; else an empty scratch journal."""
    return config.paths.journal if config.paths.journal.exists() else scratch / "journal.sqlite"
