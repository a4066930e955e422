"""service.cycle with the limits of issue 21 item 2 on the simulated cluster: external moves found, recorded,
given the cooldown and counted; the back-off after too many of them; a blackout window that opens after a plan
was made stops its moves at the guard; the per-VM daily cap holds over many cycles, drains exempt."""

from __future__ import annotations

import dataclasses
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from structlog.testing import capture_logs

from balancerd.model import ExternalMove, Outcome, Purpose
from tests.unit.service.test_cycle import HOSTS, HOT, START, VMS, Cycle, _config


@pytest.fixture()
def cycles(tmp_path: Path) -> Iterator[Callable[..., Cycle]]:
    made: list[Cycle] = []

    def make(mode: str = "enforce", **policy: object) -> Cycle:
        home = tmp_path / f"head{len(made)}"  # each its own journal and maintenance file
        home.mkdir()
        made.append(Cycle(_config(home, mode, **policy)))
        return made[-1]

    yield make
    for cycle in made:
        cycle.journal.close()


def test_a_vm_moved_by_someone_else_is_found_recorded_and_held(cycles: Callable[..., Cycle]) -> None:
    cycle = cycles("recommend")
    cycle.run()  # the baseline: nothing moves in recommend mode
    cycle.clock.advance(60.0)
    cycle.backend.relocate("a", "h2")
    with capture_logs() as logs:
        report = cycle.run()
    seen = START + 120.0
    assert report.external_moves == (ExternalMove("a", HOT, "h2", seen),)
    assert cycle.journal.external_moves(0.0) == report.external_moves
    assert [e["vm"] for e in logs if e["event"] == "external move"] == ["a"]
    assert "a" not in {m.vm for m in report.plan.moves}  # the cooldown holds it where it was put
    cycle.clock.advance(60.0)
    assert cycle.run().external_moves == ()  # found once


def test_balancerd_own_moves_are_not_external(cycles: Callable[..., Cycle]) -> None:
    cycle = cycles()
    first = cycle.run()
    assert first.plan.moves and all(r.outcome is Outcome.SUCCEEDED for r in first.results)
    cycle.clock.advance(60.0)
    assert cycle.run().external_moves == ()
    assert cycle.journal.external_moves(0.0) == ()


def test_a_dry_run_proposal_records_no_external_move(cycles: Callable[..., Cycle]) -> None:
    cycle = cycles("recommend")
    cycle.run()
    cycle.backend.relocate("a", "h2")
    cycle.clock.advance(60.0)
    assert cycle.runner.propose().external == ()  # balancerd plan / drain --check write nothing
    assert cycle.journal.external_moves(0.0) == ()


def test_too_many_external_moves_make_balancing_back_off(cycles: Callable[..., Cycle]) -> None:
    cycle = cycles("recommend", external_moves_backoff=1, external_backoff_s=600.0)
    cycle.run()
    cycle.clock.advance(60.0)
    cycle.backend.relocate("a", "h2")
    cycle.backend.relocate("b", "h2")
    with capture_logs() as logs:
        report = cycle.run()
    assert len(report.external_moves) == 2
    assert report.plan.moves == ()
    assert any("balancing backs off until" in note for note in report.plan.notes), report.plan.notes
    assert [e["event"] for e in logs].count("balancing backs off") == 1
    cycle.clock.advance(601.0)
    with capture_logs() as logs:
        later = cycle.run()
    assert {m.source for m in later.plan.moves} == {HOT}  # c and d share h1 while h3 idles: balancing is back
    assert not any("backs off" in note for note in later.plan.notes)
    assert "balancing resumes after external moves" in [e["event"] for e in logs]


def test_a_blackout_that_opens_after_the_plan_stops_its_moves_at_the_guard(tmp_path: Path) -> None:
    # START is 1970-01-01 00:16:40 UTC, a Thursday; the plan is made at 00:17:40, the window opens at 00:20
    config = _config(tmp_path, "enforce")
    window = {"days": ["Thu"], "start": "00:20", "end": "01:00", "tz": "UTC", "allow": "drains"}
    config = dataclasses.replace(config, policy=dataclasses.replace(
        config.policy, blackout=_config(tmp_path, "enforce", blackout=[window]).policy.blackout))
    cycle = Cycle(config)
    try:
        proposal = cycle.runner.propose()
        assert proposal.plan.moves and all(m.purpose is Purpose.BALANCE for m in proposal.plan.moves)
        guard = cycle.runner.guard(proposal.plan)
        assert guard(proposal.plan.moves[0]) is None
        cycle.clock.advance(150.0)  # 00:20:10
        refused = guard(proposal.plan.moves[0])
        assert refused == ("blackout window Thu 00:20-01:00 UTC: only drains start (balance moves wait)")
        drain = dataclasses.replace(proposal.plan.moves[0], purpose=Purpose.DRAIN)
        assert guard(drain) is None
    finally:
        cycle.journal.close()


def _stir(cycle: Cycle) -> None:
    """Make the fullest host hot and the others idle, so balancing wants to move VMs every cycle."""
    where = cycle.backend.placement()
    fullest = max(HOSTS, key=lambda h: (sum(1 for host in where.values() if host == h), h))
    for vm, host in where.items():
        cycle.backend.set_cpu_pct(vm, 100.0 if host == fullest else 5.0)


def _moves_per_vm(cycle: Cycle) -> Counter[str]:
    return Counter(e.vm for e in cycle.journal.migrations(1000) if e.outcome is Outcome.SUCCEEDED)


@pytest.mark.parametrize("cap", [1, 2])
def test_the_daily_cap_holds_over_many_cycles(cycles: Callable[..., Cycle], cap: int) -> None:
    capped = cycles(cooldown_s=0, max_moves_per_vm_per_day=cap)
    free = cycles(cooldown_s=0)
    for cycle in (capped, free):
        for _ in range(12):
            _stir(cycle)
            cycle.run()
            cycle.clock.advance(60.0)
    assert max(_moves_per_vm(free).values()) > cap  # without the cap this cluster moves a VM more often
    assert max(_moves_per_vm(capped).values()) <= cap
    assert set(_moves_per_vm(capped)) <= set(VMS)


def test_a_drain_moves_a_vm_at_its_cap_and_counts(cycles: Callable[..., Cycle]) -> None:
    cycle = cycles(cooldown_s=0, max_moves_per_vm_per_day=1)
    first = cycle.run()
    moved = {m.vm: m.dest for m in first.plan.moves}
    assert moved
    vm, host = sorted(moved.items())[0]
    cycle.config.paths.maintenance_file.write_text(f"{host}\n")
    for _ in range(4):
        cycle.clock.advance(60.0)
        cycle.run()
    assert cycle.backend.locate(vm) != (host,)
    assert _moves_per_vm(cycle)[vm] == 2  # the balancing move and the drain
    assert cycle.runner.limits.for_plan(cycle.clock.now()).capped  # the drain counted: it is capped
