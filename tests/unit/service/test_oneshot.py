"""`balancerd plan --explain VM` on the simulated cluster: the pre-flight of the VM's planned move.

Exercises ``service.oneshot.explain_once`` / ``check_move`` and the CLI's text and JSON forms of the checks.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest

from balancerd import cli
from balancerd import config as config_mod
from balancerd.backends.base import Check, MigrationRequest, MoveFacts
from balancerd.backends.sim.cluster import SimCluster
from balancerd.clock import FakeClock
from balancerd.config import Config
from balancerd.errors import TransientBackendError
from balancerd.execute.convergence import Convergence
from balancerd.execute.preflight import Decision
from balancerd.journal import Journal
from balancerd.model import Move, MoveKind
from balancerd.service import oneshot

CONFIG = """
mode = "recommend"
interval_s = 60.0
backend = "sim"
[sim]
hosts = 3
vms = 9
host_cpu_m = 16000
host_mem_mib = 65536
speed = 1000.0
seed = 3
[policy]
max_moves_per_cycle = 6
[paths]
maintenance_file = "maintenance"
journal = "journal.sqlite"
pid_file = "balancerd.pid"
status_file = "status.json"
"""


@pytest.fixture()
def config_path(tmp_path: Path) -> Path:
    path = tmp_path / "balancerd.toml"
    path.write_text(CONFIG)
    return path


def _draining(config_path: Path) -> tuple[Config, str]:
    """The config with its first host in maintenance, and a VM the plan moves off it."""
    cfg = config_mod.load(config_path)
    hosts = [h.name for h in SimCluster.from_config(cfg.sim, FakeClock(0.0)).hosts()]
    cfg.paths.maintenance_file.write_text(hosts[0] + "\n")
    proposal, _forecast = oneshot.propose_once(cfg)
    moved = [m for m in proposal.plan.moves if m.source == hosts[0]]
    assert moved, "draining a host plans no move"
    return cfg, moved[0].vm


def test_explain_once_runs_the_preflight_of_the_planned_move(config_path: Path) -> None:
    cfg, vm = _draining(config_path)
    _proposal, _forecast, checked = oneshot.explain_once(cfg, vm)
    (one,) = checked
    assert one.move.vm == vm and one.error is None and one.decision is not None
    names = [c.name for c in one.decision.checks]
    assert {"destination reachable", "kind", "capacity", "downtime tolerance"} <= set(names)
    assert one.decision.request is not None and one.decision.request.dest == one.move.dest


def test_explain_once_of_a_vm_without_a_move_has_no_preflight(config_path: Path) -> None:
    cfg = config_mod.load(config_path)
    assert oneshot.explain_once(cfg, "no-such-vm")[2] == ()


def test_plan_explain_json_and_text_show_the_checks(config_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _cfg, vm = _draining(config_path)
    assert cli.main(["plan", "--config", str(config_path), "--explain", vm, "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    (pre,) = doc["preflight"]
    assert pre["kind"] == "live" and pre["skip_reason"] is None and pre["error"] is None
    assert {c["name"]: c["ok"] for c in pre["checks"]}["capacity"] is True
    assert cli.main(["plan", "--config", str(config_path), "--explain", vm]) == 0
    text = capsys.readouterr().out
    assert f"pre-flight of {pre['source']} -> {pre['dest']}: would start as live" in text
    assert "[ok] capacity: " in text


class _Unreachable(SimCluster):
    def preflight(self, request: MigrationRequest) -> MoveFacts:
        raise TransientBackendError(f"{request.dest} does not answer")


def test_check_move_reports_a_backend_error(config_path: Path) -> None:
    cfg = config_mod.load(config_path)
    backend = _Unreachable([], [], FakeClock(0.0))
    checked = oneshot.check_move(backend, cfg, Move("vm1", "h1", "h2", MoveKind.LIVE, "test", 0.1, 512), 0.0)
    assert checked.decision is None and checked.error == "pre-flight could not run: h2 does not answer"
    assert cli.preflight_text(checked) == ["  pre-flight of h1 -> h2: pre-flight could not run: h2 does not answer"]
    assert cli.preflight_document(checked)["checks"] == []


def test_preflight_text_marks_failed_checks_and_the_skip() -> None:
    conv = Convergence(0, (100,), False, False, None, 3, 1000)
    checks = (Check("networks", False, "network site-h1 has no mapping on h2"), Check("capacity", True, "room"))
    checked = oneshot.Preflight(Move("vm1", "h1", "h2", MoveKind.LIVE, "test", 0.1, 512),
                                Decision(None, checks, conv, 30.0))
    assert cli.preflight_text(checked) == [
        "  pre-flight of h1 -> h2: would be skipped (deadline 30 s)",
        "    [FAIL] networks: network site-h1 has no mapping on h2",
        "    [ok] capacity: room",
    ]
    doc = cli.preflight_document(checked)
    assert doc["kind"] is None
    assert doc["skip_reason"] == "pre-flight failed: networks: network site-h1 has no mapping on h2"


def test_sample_gap_is_the_first_cycle_gap_on_the_sim_and_half_a_second_on_libvirt(config_path: Path) -> None:
    cfg = config_mod.load(config_path)
    assert oneshot.sample_gap(cfg) == 60.0  # interval 60 s < 2 s of wall time at speed 1000
    slow = dataclasses.replace(cfg, sim=dataclasses.replace(cfg.sim, speed=10.0))
    assert oneshot.sample_gap(slow) == 20.0
    assert oneshot.sample_gap(dataclasses.replace(cfg, backend="libvirt")) == oneshot.LIBVIRT_GAP_S == 0.5
    assert oneshot.sample_gap(dataclasses.replace(cfg, backend="libvirt", interval_s=0.2)) == 0.2


def test_stepped_clock_steps_over_a_sleep_and_follows_its_inner_clock() -> None:
    inner = FakeClock(100.0)
    clock = oneshot.SteppedClock(inner)
    clock.sleep(30.0)
    clock.sleep(-5.0)
    assert clock.now() == 130.0 and inner.now() == 100.0
    inner.advance(1.5)
    assert clock.now() == 131.5


def test_the_sim_plan_samples_a_gap_apart_on_its_clock(config_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    cfg = config_mod.load(config_path)
    monkeypatch.setattr(oneshot, "make_clock", lambda _config: FakeClock(0.0))
    proposal, forecast = oneshot.propose_once(cfg)
    snapshot = proposal.collected.snapshot
    assert snapshot.seq == 2 and snapshot.taken_at == oneshot.sample_gap(cfg)
    assert sum(vm.usage.cpu_m for vm in snapshot.vms) > 0  # rates formed from the two samples
    assert forecast is proposal.forecast


def test_the_offline_plan_reads_the_daemons_failure_memory(config_path: Path) -> None:
    cfg = config_mod.load(config_path)
    assert oneshot.propose_once(cfg)[0].failures == ()
    journal = Journal(cfg.paths.journal)
    remembered = journal.record_failure("vm001", "host02", 5.0, "migration failed: reset")
    journal.close()
    proposal, _forecast = oneshot.propose_once(cfg)
    assert proposal.failures == (remembered,)
