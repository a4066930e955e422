"""service.cycle and the drain proof: the maintenance file's order and ``force`` reach the planner, a refused
drain moves nothing and is logged once (when its verdict changes), ``check_drain`` proves a host not yet in
maintenance on the cycle's own collection."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from structlog.testing import capture_logs

from balancerd.errors import UnknownHostError
from tests.unit.service.test_cycle import Cycle, _config


@pytest.fixture()
def cycle(tmp_path: Path) -> Iterator[Cycle]:
    made = Cycle(_config(tmp_path, "recommend"))
    yield made
    made.journal.close()


def test_the_file_order_and_force_reach_the_proof(cycle: Cycle) -> None:
    cycle.config.paths.maintenance_file.write_text("h3\nh2 force\n")
    proofs = cycle.runner.propose().plan.drains
    assert [(p.host, p.feasible, p.forced) for p in proofs] == [("h3", True, False), ("h2", True, True)]
    assert cycle.runner.drain_inputs().slots == 1


def test_a_refused_drain_moves_nothing_and_is_logged_once(cycle: Cycle) -> None:
    cycle.config.paths.maintenance_file.write_text("h2\nh3\nh1\n")
    with capture_logs() as logs:
        first, _ = cycle.runner.step()
        second, _ = cycle.runner.step()
    refused = [e for e in logs if e["event"] == "drain refused"]
    assert [(e["host"], e["blockers"], e["log_level"]) for e in refused] == [("h1", 4, "warning")]
    assert refused[0]["first_reason"] == "2 hosts are in maintenance (h2, h3)"
    for proposal in (first, second):
        assert not [m for m in proposal.plan.moves if m.source == "h1"]
        assert all("drain of h1 refused" in s.reasons[0] for s in proposal.plan.skipped)


def test_forcing_a_refused_drain_logs_the_new_verdict(cycle: Cycle) -> None:
    path = cycle.config.paths.maintenance_file
    path.write_text("h2\nh3\nh1\n")
    with capture_logs() as logs:
        cycle.runner.step()
        path.write_text("h2\nh3\nh1 force\n")
        proposal, _ = cycle.runner.step()
    assert [e["event"] for e in logs if e.get("host") == "h1"] == ["drain refused", "drain forced"]
    assert proposal.plan.drains[-1].forced and not proposal.plan.moves  # forced, but still nowhere to go


def test_check_drain_proves_a_host_not_in_maintenance_and_changes_nothing(cycle: Cycle) -> None:
    proposal = cycle.runner.propose()
    proof = cycle.runner.check_drain(proposal, "h1")
    assert proof.feasible and len(proof.moves) == 4 and {s.dest for s in proof.moves} <= {"h2", "h3"}
    assert proof.estimated_s == pytest.approx(sum(s.seconds for s in proof.moves)) and proof.estimated_s > 0
    assert not cycle.config.paths.maintenance_file.exists()
    with pytest.raises(UnknownHostError):
        cycle.runner.check_drain(proposal, "h9")


def test_an_infeasible_cluster_is_logged_when_it_changes(cycle: Cycle) -> None:
    with capture_logs() as logs:  # 8 CPUs of demand on h1: room on h2 and h3
        first, _ = cycle.runner.step()
        cycle.config.paths.maintenance_file.write_text("h2\nh3\nh1\n")  # no eligible host left
        second, _ = cycle.runner.step()
        cycle.runner.step()
    assert first.plan.infeasible == ()
    assert second.plan.infeasible[0].startswith("demand exceeds capacity: CPU (millicores) ")
    assert "needed, 0 usable on 0 eligible host(s)" in second.plan.infeasible[0]
    assert [e["event"] for e in logs if e["event"].startswith("plan ")] == ["plan infeasible"]
