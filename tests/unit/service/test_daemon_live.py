"""The live daemon in-process on the simulated cluster and a FakeClock (issue 18): cycles go on while moves run,
the pause stops new starts at once and survives a restart, abort on pause leaves VMs on their sources, approve
re-validates a recorded plan, and a maintenance request made during a drain takes effect in the next cycle.

Migrations are held "running" by a gate in ``job_stats`` (the executor's thread waits there), so each case
decides exactly when a move may end; nothing waits on wall-clock sleeps.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from balancerd import config as config_mod
from balancerd.api.protocol import Caller, ConflictError, NotFoundError
from balancerd.backends.base import JobStats, MigrationRequest
from balancerd.backends.sim.cluster import SimCluster
from balancerd.backends.sim.specs import SimHost, SimVm
from balancerd.clock import FakeClock
from balancerd.config import Config
from balancerd.journal import JournalEntry
from balancerd.service.control import DaemonControl
from balancerd.service.daemon import Daemon

START = 1_000.0
ROOT = Caller(0, 4242)
WAIT_S = 30.0  # generous bound on thread hand-offs; every wait below ends on an event long before


class GatedSim(SimCluster):
    """A SimCluster whose migration jobs report nothing until the gate opens (or the job is aborted)."""

    def __init__(self, hosts: list[SimHost], vms: list[SimVm], clock: FakeClock) -> None:
        super().__init__(hosts, vms, clock)
        self._gate = threading.Condition()
        self.opened = False
        self.aborted: set[str] = set()
        self.started: set[str] = set()

    def start_migration(self, request: MigrationRequest) -> None:
        super().start_migration(request)
        with self._gate:
            self.started.add(request.vm)
            self._gate.notify_all()

    def job_stats(self, vm: str) -> JobStats:
        with self._gate:
            self._gate.wait_for(lambda: self.opened or vm in self.aborted, WAIT_S)
        return super().job_stats(vm)

    def abort(self, vm: str) -> None:
        super().abort(vm)
        with self._gate:
            self.aborted.add(vm)
            self._gate.notify_all()

    def open(self) -> None:
        with self._gate:
            self.opened = True
            self._gate.notify_all()

    def wait_started(self, count: int) -> set[str]:
        """Block until ``count`` VMs' migrations have started; their names."""
        with self._gate:
            assert self._gate.wait_for(lambda: len(self.started) >= count, WAIT_S), self.started
            return set(self.started)


def _config(tmp_path: Path, mode: str = "enforce") -> Config:
    table: dict[str, object] = {
        "mode": mode, "interval_s": 60.0,
        "policy": {"max_moves_per_cycle": 10, "min_gain": 0.0, "cooldown_s": 0},
        "paths": {"maintenance_file": "maintenance", "journal": "journal.sqlite", "pid_file": "p.pid",
                  "status_file": "status.json"},
        "control": {"socket": "control.sock", "pause_file": "pause", "pause_state": "paused.json"},
        "metrics": {"enabled": False},
    }
    return config_mod.from_table(table, tmp_path)


def _cluster(clock: FakeClock) -> GatedSim:
    hosts = [SimHost(name, 8, 32768) for name in ("h1", "h2", "h3", "h4")]
    vms = [SimVm("a", "h1", 2, 4096, 20.0), SimVm("b", "h1", 2, 4096, 20.0),
           SimVm("c", "h2", 2, 4096, 20.0), SimVm("d", "h2", 2, 4096, 20.0)]
    return GatedSim(hosts, vms, clock)


class Rig:
    def __init__(self, tmp_path: Path, mode: str = "enforce") -> None:
        self.config = _config(tmp_path, mode)
        self.clock = FakeClock(START)
        self.backend = _cluster(self.clock)
        self.daemon = Daemon(self.config, self.clock, self.backend)
        self.daemon._load_pause()
        self.control = DaemonControl(self.daemon)
        self.daemon.runner.prime()

    def cycle(self) -> None:
        self.clock.advance(60.0)
        self.daemon._cycle()

    def finish(self) -> None:
        self.backend.open()
        assert self.daemon.worker.join(WAIT_S)

    def journal(self) -> list[JournalEntry]:
        return sorted(self.daemon.journal.migrations(), key=lambda e: e.id)


@pytest.fixture()
def rigs(tmp_path: Path) -> Iterator[list[Rig]]:
    made: list[Rig] = []
    yield made
    for rig in made:
        rig.daemon.stop_event.set()
        rig.finish()
        rig.daemon.journal.close()


def _rig(rigs: list[Rig], tmp_path: Path, mode: str = "enforce") -> Rig:
    rigs.append(Rig(tmp_path, mode))
    return rigs[-1]


def test_cycles_go_on_while_a_migration_runs_and_no_vm_is_in_two_plans(rigs: list[Rig], tmp_path: Path) -> None:
    rig = _rig(rigs, tmp_path)
    rig.control.maintenance("h1", True, ROOT)
    rig.cycle()
    (moving,) = rig.backend.wait_started(1)  # one outgoing slot per host: one move off h1 runs
    rig.cycle()  # returns although the move still runs
    status = rig.daemon.status_document()
    assert status["cycle"] == 2 and [f["vm"] for f in status["in_flight"]] == [moving]
    proposal, _plan_id = rig.daemon.last_proposal or (None, 0)
    assert proposal is not None and moving in {f.vm for f in proposal.collected.snapshot.in_flight}
    assert moving not in {m.vm for m in proposal.plan.moves}
    rig.finish()
    rows = rig.journal()
    assert len({(e.vm, e.plan_id) for e in rows}) == len(rows)
    opened = [(e.vm, e.started_at, e.finished_at or START * 2) for e in rows if e.outcome is not None]
    for vm, start, end in opened:  # no VM has two overlapping journalled moves
        assert not [o for o in opened if o[0] == vm and o[1] < end and start < o[2] and o != (vm, start, end)]


def test_pause_stops_new_starts_at_once_and_survives_a_restart(rigs: list[Rig], tmp_path: Path) -> None:
    rig = _rig(rigs, tmp_path)
    rig.control.maintenance("h1", True, ROOT)
    rig.control.maintenance("h2", True, ROOT)
    rig.cycle()
    running = rig.backend.wait_started(2)  # one move off h1 and one off h2
    answer = rig.control.pause(False, ROOT)
    assert answer["paused"] is True and answer["by"] == "uid 0 (pid 4242)"
    rig.finish()
    assert {e.vm for e in rig.journal()} == running  # nothing else ever started
    rig.cycle()
    assert {e.vm for e in rig.journal()} == running
    doc = rig.daemon.status_document()
    assert doc["paused"] is True and doc["paused_by"] == "uid 0 (pid 4242)"
    assert [a.action for a in rig.daemon.journal.actions()][:1] == ["pause"]
    again = _rig(rigs, tmp_path)  # a restart on the same state directory
    assert again.daemon.paused_reason() == "paused by uid 0 (pid 4242)" and again.daemon.runner.executor.paused
    assert again.control.resume(ROOT) == {"paused": False, "reason": None}
    assert not again.config.control.pause_state.exists()


def test_the_pause_file_holds_moves_back_and_its_removal_lets_them_go(rigs: list[Rig], tmp_path: Path) -> None:
    rig = _rig(rigs, tmp_path)
    rig.config.control.pause_file.write_text("")
    rig.control.maintenance("h1", True, ROOT)
    rig.cycle()
    assert rig.daemon.status_document()["paused"] is True and rig.journal() == []
    rig.config.control.pause_file.unlink()
    rig.cycle()
    assert rig.backend.wait_started(1)


def test_pause_with_abort_running_leaves_each_vm_running_on_its_source(rigs: list[Rig], tmp_path: Path) -> None:
    rig = _rig(rigs, tmp_path)
    rig.control.maintenance("h1", True, ROOT)
    rig.cycle()
    (moving,) = rig.backend.wait_started(1)
    answer = rig.control.pause(True, ROOT)
    assert answer["aborted"] == [{"vm": moving, "source": "h1", "verified": True,
                                  "where": [{"host": "h1", "state": "running"}]}]
    (entry,) = rig.journal()
    assert entry.outcome is not None and entry.outcome.value == "aborted" and "paused by uid 0" in entry.detail
    assert rig.backend.placement()[moving] == "h1"


def test_approve_runs_a_recorded_plan_and_skips_moves_that_drifted(rigs: list[Rig], tmp_path: Path) -> None:
    rig = _rig(rigs, tmp_path, mode="recommend")
    rig.control.maintenance("h1", True, ROOT)
    rig.cycle()
    proposal, plan_id = rig.daemon.last_proposal or (None, 0)
    assert proposal is not None and {m.vm for m in proposal.plan.moves} == {"a", "b"}
    assert rig.journal() == []  # recommend: nothing moves by itself
    SimCluster.start_migration(rig.backend, MigrationRequest("a", "h1", "h4"))  # someone else moves a
    rig.backend.open()
    rig.clock.advance(600.0)
    rig.backend.job_stats("a")
    rig.daemon._cycle()
    answer = rig.control.approve(plan_id, ROOT)
    assert answer["skipped"] == [{"vm": "a", "reason": "a is now on h4, not h1"}]
    assert [m["vm"] for m in answer["accepted"]] == ["b"]
    rig.finish()
    assert rig.backend.placement()["b"] != "h1" and rig.backend.placement()["a"] == "h4"
    assert next(a.action for a in rig.daemon.journal.actions()) == "approve"


def test_approve_refuses_old_unknown_and_enforced_plans(rigs: list[Rig], tmp_path: Path) -> None:
    rig = _rig(rigs, tmp_path, mode="recommend")
    rig.control.maintenance("h1", True, ROOT)
    rig.cycle()
    _proposal, plan_id = rig.daemon.last_proposal or (None, 0)
    with pytest.raises(NotFoundError, match="no plan 999"):
        rig.control.approve(999, ROOT)
    rig.clock.advance(rig.config.policy.plan_ttl_s + 1)
    with pytest.raises(ConflictError, match=r"older than policy\.plan_ttl_s"):
        rig.control.approve(plan_id, ROOT)
    enforce = _rig(rigs, tmp_path / "e")
    with pytest.raises(ConflictError, match="mode 'recommend'"):
        enforce.control.approve(plan_id, ROOT)


def test_a_maintenance_request_during_a_drain_takes_effect_in_the_next_cycle(rigs: list[Rig],
                                                                               tmp_path: Path) -> None:
    rig = _rig(rigs, tmp_path)
    rig.control.maintenance("h1", True, ROOT)
    rig.cycle()
    (moving,) = rig.backend.wait_started(1)
    rig.control.maintenance("h2", True, ROOT)
    rig.cycle()
    proposal, _plan_id = rig.daemon.last_proposal or (None, 0)
    assert proposal is not None and proposal.maintenance == {"h1", "h2"}
    planned = {m.vm: m.source for m in proposal.plan.moves}
    assert planned == {"c": "h2", "d": "h2", **{vm: "h1" for vm in ("a", "b") if vm != moving}}
    drains = rig.daemon.status_document()["drains"]
    assert drains["h1"]["vms_at_start"] == 2 and drains["h2"]["vms_at_start"] == 2


def test_unknown_names_are_refused(rigs: list[Rig], tmp_path: Path) -> None:
    rig = _rig(rigs, tmp_path)
    rig.cycle()
    with pytest.raises(NotFoundError, match="host 'h9'"):
        rig.control.maintenance("h9", True, ROOT)
    with pytest.raises(NotFoundError, match="VM 'zz'"):
        rig.control.explain("zz")
    assert rig.control.explain("a")["vm"] == "a"
