"""service.cycle: ``CycleRunner`` in-process on the simulated cluster and a FakeClock.

The one place that wires collect -> predict -> optimize -> execute: propose (no side effects), enforce (the
plan's moves run and are journalled), recommend (the plan is journalled, nothing moves), and the guard that
re-validates each move right before it starts (ARCHITECTURE.md rule 8): a VM that moved, a destination
that entered maintenance, a plan older than ``plan_ttl_s``: the move is skipped with a reason, not failed.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from balancerd import config as config_mod
from balancerd.backends.base import MigrationRequest
from balancerd.backends.sim.cluster import SimCluster
from balancerd.backends.sim.specs import SimHost, SimVm
from balancerd.clock import FakeClock
from balancerd.config import Config
from balancerd.journal import Journal
from balancerd.model import CycleReport, Move, MoveResult, Outcome
from balancerd.service.cycle import CycleRunner

START = 1_000.0
HOT = "h1"
HOSTS = ("h1", "h2", "h3")
VMS = ("a", "b", "c", "d")
"""Four 2-vCPU VMs at 100 % on h1 (8 CPUs: full), h2 and h3 idle: every balancing plan moves VMs off h1."""

Hook = Callable[[str, Move, MoveResult | None], None]


def _config(tmp_path: Path, mode: str, **policy: object) -> Config:
    table: dict[str, object] = {
        "mode": mode, "interval_s": 60.0, "policy": {"max_moves_per_cycle": 3, "min_gain": 0.0, **policy},
        "paths": {"maintenance_file": "maintenance", "journal": "journal.sqlite", "pid_file": "p.pid",
                  "status_file": "status.json"},
    }
    return config_mod.from_table(table, tmp_path)


def _cluster(clock: FakeClock) -> SimCluster:
    hosts = [SimHost(name, 8, 32768) for name in HOSTS]
    vms = [SimVm(name, HOT, 2, 4096, 100.0) for name in VMS]
    return SimCluster(hosts, vms, clock)


class Cycle:
    """A CycleRunner over a SimCluster, a FakeClock and a journal in ``tmp_path``; records executor events."""

    def __init__(self, config: Config, hook: Hook | None = None) -> None:
        self.config = config
        self.clock = FakeClock(START)
        self.backend = _cluster(self.clock)
        self.journal = Journal(config.paths.journal)
        self.events: list[tuple[str, str]] = []
        self._hook = hook
        self.runner = CycleRunner(config, self.backend, self.clock, self.journal, on_event=self._event)
        self.runner.prime()
        self.clock.advance(config.interval_s)

    def _event(self, kind: str, move: Move, result: MoveResult | None) -> None:
        self.events.append((kind, move.vm))
        if self._hook is not None:
            self._hook(kind, move, result)

    def run(self) -> CycleReport:
        return self.runner.run(threading.Event())

    def plan_rows(self) -> list[tuple[str, int]]:
        """(mode, snapshot_seq) of every journalled plan."""
        with sqlite3.connect(self.journal.path) as conn:
            return [(str(m), int(s)) for m, s in conn.execute("SELECT mode, snapshot_seq FROM plans ORDER BY id")]


@pytest.fixture()
def cycles(tmp_path: Path) -> Iterator[Callable[..., Cycle]]:
    made: list[Cycle] = []

    def make(mode: str = "enforce", hook: Hook | None = None, **policy: object) -> Cycle:
        made.append(Cycle(_config(tmp_path, mode, **policy), hook))
        return made[-1]

    yield make
    for cycle in made:
        cycle.journal.close()


def _placement_after(report: CycleReport) -> dict[str, str]:
    """Where every VM should be: the start placement with each succeeded move applied."""
    where = dict.fromkeys(VMS, HOT)
    for result in report.results:
        if result.outcome is Outcome.SUCCEEDED:
            where[result.move.vm] = result.move.dest
    return where


def test_propose_plans_moves_off_the_hot_host_and_touches_nothing(cycles: Callable[..., Cycle]) -> None:
    cycle = cycles()
    proposal = cycle.runner.propose()
    moves = proposal.plan.moves
    assert len(moves) >= 2 and all(m.source == HOT and m.dest in ("h2", "h3") for m in moves)
    assert proposal.plan.created_at == START + 60.0 == proposal.collected.snapshot.taken_at
    assert proposal.maintenance == frozenset()
    assert cycle.backend.placement() == dict.fromkeys(VMS, HOT)
    assert cycle.journal.migrations() == () and cycle.plan_rows() == [] and cycle.events == []


def test_enforce_runs_every_move_and_journals_it(cycles: Callable[..., Cycle]) -> None:
    cycle = cycles()
    report = cycle.run()
    assert report.mode == "enforce" and report.cycle == 1 and len(report.plan.moves) >= 2
    assert [r.outcome for r in report.results] == [Outcome.SUCCEEDED] * len(report.plan.moves)
    assert [r.move.vm for r in report.results] == [m.vm for m in report.plan.moves]
    assert cycle.backend.placement() == _placement_after(report)
    assert cycle.backend.placement() != dict.fromkeys(VMS, HOT)
    entries = sorted(cycle.journal.migrations(), key=lambda e: e.id)
    assert [(e.vm, e.source, e.dest, e.outcome) for e in entries] == [
        (m.vm, m.source, m.dest, Outcome.SUCCEEDED) for m in report.plan.moves]
    assert cycle.plan_rows() == [("enforce", report.snapshot.seq)]
    assert [kind for kind, _ in cycle.events].count("succeeded") == len(report.plan.moves)


def test_moved_vms_are_in_cooldown_in_the_next_cycle(cycles: Callable[..., Cycle]) -> None:
    cycle = cycles()
    first = cycle.run()
    cycle.clock.advance(60.0)
    second = cycle.runner.propose()
    moved = {m.vm for m in first.plan.moves}
    assert moved and not moved & {m.vm for m in second.plan.moves}


def test_recommend_journals_the_plan_and_moves_nothing(cycles: Callable[..., Cycle]) -> None:
    cycle = cycles("recommend")
    report = cycle.run()
    assert report.mode == "recommend" and report.plan.moves and report.results == ()
    assert cycle.backend.placement() == dict.fromkeys(VMS, HOT)
    assert cycle.journal.migrations() == () and cycle.events == []
    assert cycle.plan_rows() == [("recommend", report.snapshot.seq)]


def _after_first_start(action: Callable[[Move], None]) -> Hook:
    """A hook that runs ``action`` once, when the plan's first move has started (the drift under test)."""
    done: list[bool] = []

    def hook(kind: str, move: Move, _result: MoveResult | None) -> None:
        if kind == "started" and not done:
            done.append(True)
            action(move)

    return hook


def _skips(report: CycleReport) -> dict[str, str]:
    return {r.move.vm: r.detail for r in report.results if r.outcome is Outcome.SKIPPED}


def test_a_vm_that_moved_since_the_plan_is_skipped_not_failed(cycles: Callable[..., Cycle]) -> None:
    holder: list[Cycle] = []

    def move_the_others_to_h3(started: Move) -> None:
        backend = holder[0].backend
        for vm in VMS:
            if vm != started.vm:
                backend.start_migration(MigrationRequest(vm, HOT, "h3"))
        holder[0].clock.advance(120.0)  # every migration, the executor's too, has ended

    holder.append(cycles(hook=_after_first_start(move_the_others_to_h3)))
    report = holder[0].run()
    first, *later = report.results
    assert first.outcome is Outcome.SUCCEEDED and later
    assert _skips(report) == {r.move.vm: f"{r.move.vm} is on h3, not only on {HOT}" for r in later}
    assert not [r for r in report.results if r.outcome is Outcome.FAILED]
    skipped = {e.vm: e.detail for e in holder[0].journal.migrations() if e.outcome is Outcome.SKIPPED}
    assert skipped == _skips(report)


def test_a_destination_that_entered_maintenance_is_skipped(cycles: Callable[..., Cycle]) -> None:
    holder: list[Cycle] = []

    def maintain_h2_and_h3(_started: Move) -> None:
        holder[0].config.paths.maintenance_file.write_text("h2\nh3\n")

    holder.append(cycles(hook=_after_first_start(maintain_h2_and_h3)))
    report = holder[0].run()
    first, *later = report.results
    assert first.outcome is Outcome.SUCCEEDED and later
    assert _skips(report) == {r.move.vm: f"destination {r.move.dest} entered maintenance" for r in later}
    assert holder[0].backend.placement() == _placement_after(report)


def test_a_plan_older_than_its_ttl_is_refused_move_by_move(cycles: Callable[..., Cycle]) -> None:
    holder: list[Cycle] = []
    holder.append(cycles(hook=_after_first_start(lambda _move: holder[0].clock.advance(31.0)), plan_ttl_s=30.0))
    report = holder[0].run()
    first, *later = report.results
    assert first.outcome is Outcome.SUCCEEDED and later
    assert _skips(report) == {r.move.vm: "plan older than plan_ttl_s (30 s)" for r in later}
    assert holder[0].backend.placement() == _placement_after(report)


def test_the_same_delay_within_the_default_ttl_runs_every_move(cycles: Callable[..., Cycle]) -> None:
    holder: list[Cycle] = []
    holder.append(cycles(hook=_after_first_start(lambda _move: holder[0].clock.advance(31.0))))
    report = holder[0].run()
    assert holder[0].config.policy.plan_ttl_s == 900.0
    assert len(report.results) >= 2 and _skips(report) == {}
