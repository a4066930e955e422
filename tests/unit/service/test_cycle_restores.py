"""service.cycle and move-back after maintenance: a drained host that leaves maintenance with ``[maintenance]
restore`` gets its VMs back, in throttled cycles through the executor, and the restore closes itself; a host
back in maintenance cancels it; on the embedded default cluster every VM drained off host03 comes back."""

from __future__ import annotations

import dataclasses
import math
import threading
import tomllib
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from structlog.testing import capture_logs

from balancerd import config as config_mod
from balancerd.backends.sim.cluster import SimCluster
from balancerd.clock import FakeClock
from balancerd.config import MaintenanceConfig
from balancerd.journal import Journal
from balancerd.service.cycle import CycleRunner
from tests.unit.service.test_cycle import HOT, START, VMS, Cycle, _config


@pytest.fixture()
def cycle(tmp_path: Path) -> Iterator[Cycle]:
    # no headroom: the four VMs of h1 fill it exactly, so all of them fit back
    config = dataclasses.replace(_config(tmp_path, "enforce", headroom_pct=0),
                                 maintenance=MaintenanceConfig(restore=True))
    made = Cycle(config)
    yield made
    made.journal.close()


def _until(cycle: Cycle, done: object, cycles: int = 6) -> int:
    """Run cycles until ``done()`` holds; how many it took."""
    for n in range(1, cycles + 1):
        cycle.run()
        cycle.clock.advance(cycle.config.interval_s)
        if done():  # type: ignore[operator]
            return n
    raise AssertionError(f"not done after {cycles} cycles")


def _on_hot(cycle: Cycle) -> set[str]:
    return {vm for vm in VMS if cycle.backend.locate(vm) == (HOT,)}


def test_drained_vms_come_back_when_the_host_leaves_maintenance(cycle: Cycle) -> None:
    path = cycle.config.paths.maintenance_file
    path.write_text(f"{HOT}\n")
    _until(cycle, lambda: not _on_hot(cycle))
    path.write_text("")
    with capture_logs() as logs:
        took = _until(cycle, lambda: _on_hot(cycle) == set(VMS))
        cycle.run()  # the next plan sees every VM back: the restore closes
    assert took == 2  # 4 VMs at 3 moves a cycle
    events = [e["event"] for e in logs if e.get("host") == HOT]
    assert events[0] == "restore requested" and "restore finished" in events
    assert cycle.journal.restores() == ()
    assert all(cycle.backend.locate(vm) == (HOT,) for vm in VMS)  # each defined once


def test_a_host_back_in_maintenance_cancels_its_restore(cycle: Cycle) -> None:
    path = cycle.config.paths.maintenance_file
    path.write_text(f"{HOT}\n")
    _until(cycle, lambda: not _on_hot(cycle))
    path.write_text("")
    cycle.runner.propose()  # sees the host leave: the restore opens
    assert [r.host for r in cycle.journal.restores()] == [HOT]
    path.write_text(f"{HOT}\n")
    cycle.runner.propose()
    assert cycle.journal.restores() == ()


def test_a_vm_that_no_longer_fits_stays_and_the_restore_still_closes(tmp_path: Path) -> None:
    """With the default 10 % headroom h1 takes three of its four VMs back; the fourth stays, said in the log."""
    made = Cycle(dataclasses.replace(_config(tmp_path, "enforce"), maintenance=MaintenanceConfig(restore=True)))
    try:
        path = made.config.paths.maintenance_file
        path.write_text(f"{HOT}\n")
        _until(made, lambda: not _on_hot(made))
        path.write_text("")
        with capture_logs() as logs:
            _until(made, lambda: made.journal.restores() == ())
        (finished,) = [e for e in logs if e["event"] == "restore finished"]
        assert finished["back"] == 3 and len(finished["not_returned"]) == 1
        assert "h1 lacks cpu" in finished["not_returned"][0]
        assert len(_on_hot(made)) == 3
    finally:
        made.journal.close()


DEMO = Path(__file__).parents[3] / "config" / "demo.toml"


def _demo(tmp_path: Path) -> tuple[CycleRunner, FakeClock, SimCluster, Journal]:
    """The embedded default (config/demo.toml: 20 hosts, 400 VMs on the bundled trace) on a FakeClock, with
    ``[maintenance] restore`` and its files in ``tmp_path``."""
    table = tomllib.loads(DEMO.read_text())
    table["paths"] = {"maintenance_file": "maintenance", "journal": "journal.sqlite", "pid_file": "p.pid",
                      "status_file": "status.json"}
    table["maintenance"] = {"restore": True}
    config = config_mod.from_table(table, tmp_path)
    clock = FakeClock(START)
    backend = SimCluster.from_config(config.sim, clock, link_mib_s=config.migration.link_mib_s)
    journal = Journal(config.paths.journal)
    runner = CycleRunner(config, backend, clock, journal)
    runner.prime()
    return runner, clock, backend, journal


def _residents(backend: SimCluster, host: str) -> set[str]:
    return {d.name for d in backend.domain_stats(host)}


def test_on_the_demo_cluster_the_drained_vms_come_back_within_the_move_budget(tmp_path: Path) -> None:
    """Issue 21's target on the embedded default: drain host03, let the cluster run on, exit maintenance: at
    least 95 % of the drained VMs are back on it, each running once, within the cycles the move budget needs."""
    runner, clock, backend, journal = _demo(tmp_path)
    interval, budget = runner.config.interval_s, runner.config.policy.max_moves_per_cycle

    def run(cycles: int, done: Callable[[], bool]) -> int:
        for n in range(1, cycles + 1):
            clock.advance(interval)
            runner.run(threading.Event())
            if done():
                return n
        raise AssertionError(f"not done after {cycles} cycles")

    try:
        for _ in range(6):  # let balancing settle first, as the demo does before its drain
            clock.advance(interval)
            runner.run(threading.Event())
        drained = _residents(backend, "host03")
        assert len(drained) >= 10, drained
        runner.config.paths.maintenance_file.write_text("host03\n")
        run(4 * math.ceil(len(drained) / budget) + 4, lambda: not _residents(backend, "host03"))
        runner.config.paths.maintenance_file.write_text("")
        took = run(math.ceil(len(drained) / budget) + 3, lambda: journal.restores() == () and
                   bool(_residents(backend, "host03")))
        back = drained & _residents(backend, "host03")
        assert len(back) >= 0.95 * len(drained), (len(back), len(drained), took)
        assert all(backend.locate(vm) == ("host03",) for vm in back)
    finally:
        journal.close()
