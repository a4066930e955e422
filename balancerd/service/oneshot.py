"""One proposal without a daemon, for ``balancerd plan``: the same parts the daemon uses, run once.

Takes two collections ``min(interval, 2 s of wall time)`` apart so that rates exist, then plans. It reads
the configured journal for cooldowns when one exists (a scratch journal otherwise) and writes nothing.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

from balancerd import journal as journal_mod
from balancerd.config import Config
from balancerd.model import Forecast
from balancerd.service.cycle import CycleRunner, Proposal
from balancerd.service.wiring import clock_speed, make_backend, make_clock


def propose_once(config: Config) -> tuple[Proposal, Forecast]:
    """Collect twice, predict, plan; nothing is executed or recorded."""
    clock = make_clock(config)
    backend = make_backend(config, clock)
    with tempfile.TemporaryDirectory(prefix="balancerd-plan-") as tmp:
        journal = journal_mod.Journal(_journal_path(config, Path(tmp)))
        try:
            runner = CycleRunner(config, backend, clock, journal)
            runner.prime()
            clock.sleep(min(config.interval_s, 2.0 * clock_speed(clock)))
            proposal = runner.propose()
            return proposal, runner.predictor.forecast()
        finally:
            journal.close()
            backend.close()


def _journal_path(config: Config, scratch: Path) -> Path:
    """Read cooldowns from the daemon's journal when there is one; else an empty scratch journal."""
    return config.paths.journal if config.paths.journal.exists() else scratch / "journal.sqlite"
