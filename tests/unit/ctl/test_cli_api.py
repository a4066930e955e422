"""balancerctl over the control API: each verb against a real socket, exit codes, the fallback to the file."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from structlog.testing import capture_logs

from balancerd import maintenance
from balancerd.api.protocol import Caller, ConflictError, NotFoundError
from balancerd.ctl import cli as ctl
from balancerd.service import status
from tests.unit.api.fakes import PLAN, FakeControl, control_config, serving

ME = Caller(uid=0, pid=os.getpid(), via="unix")


def _config(tmp_path: Path) -> Path:
    path = tmp_path / "b.toml"
    path.write_text('backend = "sim"\n[sim]\nhosts = 3\n[paths]\nmaintenance_file = "m"\njournal = "j.sqlite"\n'
                    'pid_file = "p.pid"\nstatus_file = "s.json"\n[control]\nsocket = "c.sock"\n')
    return path


@pytest.fixture
def daemon(tmp_path: Path) -> Iterator[FakeControl]:
    """A control API on the config's socket, over a FakeControl (its log lines kept out of stdout)."""
    with capture_logs(), serving(control_config(tmp_path / "c.sock")) as (_server, control):
        yield control


def run(tmp_path: Path, *argv: str) -> int:
    return ctl.main(["--config", str(_config(tmp_path)), *argv])


def test_plan_prints_one_line_per_move(tmp_path: Path, daemon: FakeControl, capsys: pytest.CaptureFixture[str]) -> None:
    assert run(tmp_path, "plan") == 0
    assert capsys.readouterr().out.splitlines() == [
        "plan 12 (snapshot 34, recommend, balance): 2 moves, 1 skipped",
        "  web1  host01 -> host02  live  recommended  host01 hot",
        "  db1   host03 -> host02  cold  running      drain host03",
        "skipped big: no host has room",
    ]


def test_plan_json_is_the_apis_json(tmp_path: Path, daemon: FakeControl, capsys: pytest.CaptureFixture[str]) -> None:
    assert run(tmp_path, "plan", "--json") == 0
    assert json.loads(capsys.readouterr().out) == PLAN


def test_explain(tmp_path: Path, daemon: FakeControl, capsys: pytest.CaptureFixture[str]) -> None:
    assert run(tmp_path, "explain", "web1") == 0
    assert capsys.readouterr().out.splitlines() == [
        "web1 in plan 12 (snapshot 34):", "  web1 stays: gain too small",
        "pre-flight of web1 -> host02: would start", "  ok   cpu: compatible"]
    assert run(tmp_path, "explain", "web1", "--json") == 0
    assert json.loads(capsys.readouterr().out)["reasons"] == ["web1 stays: gain too small"]
    assert daemon.calls == [("explain", ("web1",)), ("explain", ("web1",))]


def test_an_unknown_vm_is_refused_with_the_daemons_reason(tmp_path: Path, daemon: FakeControl,
                                                         capsys: pytest.CaptureFixture[str]) -> None:
    daemon.fail["explain"] = NotFoundError("VM 'ghost' is not in the daemon's last snapshot (seq 34)")
    assert run(tmp_path, "explain", "ghost") == ctl.EXIT_REFUSED
    assert "the daemon refused (404): VM 'ghost' is not in the daemon's last snapshot" in capsys.readouterr().err


def test_pause_resume_approve(tmp_path: Path, daemon: FakeControl, capsys: pytest.CaptureFixture[str]) -> None:
    assert run(tmp_path, "pause") == 0
    assert run(tmp_path, "pause", "--abort-running") == 0
    assert run(tmp_path, "resume") == 0
    assert run(tmp_path, "approve", "12") == 0
    assert capsys.readouterr().out.splitlines() == [
        f"paused by {ME.describe()}: no new migration starts",
        f"paused by {ME.describe()}: no new migration starts", "aborted web1: running on host01 only",
        "resumed: migrations may start again",
        "plan 12 approved: 1 moves to execute, 1 skipped", "  web1  host01 -> host02  live  host01 hot",
        "skipped db1: moved"]
    assert daemon.calls == [("pause", (False, ME)), ("pause", (True, ME)), ("resume", (ME,)), ("approve", (12, ME))]


def test_a_refused_approve_exits_6(tmp_path: Path, daemon: FakeControl, capsys: pytest.CaptureFixture[str]) -> None:
    daemon.fail["approve"] = ConflictError("approve is for mode 'recommend'")
    assert run(tmp_path, "approve", "12") == ctl.EXIT_REFUSED
    assert "(409): approve is for mode 'recommend'" in capsys.readouterr().err


@pytest.mark.parametrize("argv", [["plan"], ["explain", "web1"], ["pause"], ["resume"], ["approve", "3"]])
def test_api_verbs_without_a_daemon_exit_3(tmp_path: Path, argv: list[str],
                                           capsys: pytest.CaptureFixture[str]) -> None:
    assert run(tmp_path, *argv) == ctl.EXIT_NOT_RUNNING
    err = capsys.readouterr().err
    assert "balancerd is not running" in err and str(tmp_path / "c.sock") in err


def test_the_socket_option_wins_over_the_config(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "other").mkdir()
    with capture_logs(), serving(control_config(tmp_path / "other" / "api.sock")) as (_server, control):
        assert ctl.main(["--config", str(_config(tmp_path)), "--socket", str(tmp_path / "other" / "api.sock"),
                         "resume"]) == 0
    assert control.names() == ["resume"]


def test_maintenance_goes_through_the_api_when_the_daemon_answers(tmp_path: Path, daemon: FakeControl,
                                                                 capsys: pytest.CaptureFixture[str]) -> None:
    assert run(tmp_path, "maintenance", "enter", "host02") == 0
    assert run(tmp_path, "maintenance", "exit", "host02") == 0
    assert run(tmp_path, "maintenance", "exit", "host02", "--restore") == 0
    assert daemon.calls == [("maintenance", ("host02", True, ME, False, False)),
                            ("maintenance", ("host02", False, ME, False, False)),
                            ("maintenance", ("host02", False, ME, False, True))]
    out = capsys.readouterr()
    assert out.out.splitlines() == ["host02 enters maintenance", "host02 leaves maintenance",
                                    "host02 leaves maintenance"]
    assert "nothing recorded as drained off it" in out.err  # the fake answers without "restore"
    assert not (tmp_path / "m").exists()


def test_drain_goes_through_the_api(tmp_path: Path, daemon: FakeControl, capsys: pytest.CaptureFixture[str]) -> None:
    assert run(tmp_path, "drain", "host02", "--json") == 0
    assert json.loads(capsys.readouterr().out) == {"event": "maintenance", "host": "host02", "changed": True,
                                                   "forced": False}
    assert daemon.calls == [("maintenance", ("host02", True, ME, False, False))]


def test_drain_force_asks_the_daemon_to_force(tmp_path: Path, daemon: FakeControl,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    assert run(tmp_path, "drain", "host02", "--force") == 0
    assert capsys.readouterr().out == "host02 enters maintenance (forced: what fits leaves, the rest stays)\n"
    assert daemon.calls == [("maintenance", ("host02", True, ME, True, False))]


def test_drain_check_asks_the_daemon_and_changes_nothing(tmp_path: Path, daemon: FakeControl,
                                                         capsys: pytest.CaptureFixture[str]) -> None:
    assert run(tmp_path, "drain", "--check", "host02") == 0
    assert capsys.readouterr().out.splitlines() == [
        "drain of host02 is feasible: 2 moves, about 42 s (daemon's snapshot 34)",
        "  web1  -> host02  live  30 s",
        "  db1   -> host03  live  12 s",
    ]
    assert daemon.calls == [("drain_check", ("host02",))]
    assert not (tmp_path / "m").exists()


def test_drain_check_json_and_exit_6_when_infeasible(tmp_path: Path, daemon: FakeControl,
                                                     capsys: pytest.CaptureFixture[str]) -> None:
    assert run(tmp_path, "drain", "--check", "host03", "--json") == ctl.EXIT_REFUSED
    answer = json.loads(capsys.readouterr().out)
    assert (answer["host"], answer["feasible"], answer["source"]) == ("host03", False, "daemon")


def test_drain_check_of_an_unknown_host_exits_2(tmp_path: Path, daemon: FakeControl,
                                                capsys: pytest.CaptureFixture[str]) -> None:
    daemon.fail["drain_check"] = NotFoundError("unknown host 'nosuch'; known hosts: host01")
    assert run(tmp_path, "drain", "--check", "nosuch") == ctl.EXIT_UNKNOWN_HOST
    assert "unknown host 'nosuch'" in capsys.readouterr().err


@pytest.mark.parametrize("argv", [["maintenance", "enter", "nosuch"], ["drain", "nosuch"]])
def test_an_unknown_host_from_the_api_exits_2(tmp_path: Path, daemon: FakeControl, argv: list[str],
                                             capsys: pytest.CaptureFixture[str]) -> None:
    daemon.fail["maintenance"] = NotFoundError("host 'nosuch' is not in the cluster (known: host01, host02)")
    assert run(tmp_path, *argv) == ctl.EXIT_UNKNOWN_HOST
    assert "host 'nosuch' is not in the cluster (known: host01, host02)" in capsys.readouterr().err


@pytest.fixture
def listening_for_usr1(tmp_path: Path) -> Iterator[subprocess.Popen[str]]:
    """A balancerd stand-in holding the pid file's lock that prints 'usr1' when it gets SIGUSR1."""
    child = subprocess.Popen([sys.executable, "-c", "import fcntl, os, signal, sys  # balancerd stand-in\n"
                              "fd = os.open(sys.argv[1], os.O_RDWR | os.O_CREAT)\nfcntl.flock(fd, fcntl.LOCK_EX)\n"
                              "os.write(fd, str(os.getpid()).encode())\n"
                              "signal.signal(signal.SIGUSR1, lambda *_: (print('usr1', flush=True), sys.exit(0)))\n"
                              "print('ok', flush=True)\nsignal.pause()", str(tmp_path / "p.pid")],
                             stdout=subprocess.PIPE, text=True)
    try:
        assert child.stdout is not None and child.stdout.readline() == "ok\n"
        yield child
    finally:
        child.kill()
        child.wait()


def test_with_a_stale_socket_maintenance_falls_back_to_the_file_and_the_signal(
        tmp_path: Path, listening_for_usr1: subprocess.Popen[str], capsys: pytest.CaptureFixture[str]) -> None:
    dead = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    dead.bind(str(tmp_path / "c.sock"))
    dead.close()
    assert run(tmp_path, "maintenance", "enter", "host02") == 0
    assert maintenance.read(tmp_path / "m") == frozenset({"host02"})
    assert capsys.readouterr().out == "host02 enters maintenance\n"
    out, _ = listening_for_usr1.communicate(timeout=10)
    assert out == "usr1\n"


def test_status_prefers_the_api(tmp_path: Path, daemon: FakeControl, capsys: pytest.CaptureFixture[str]) -> None:
    status.write(tmp_path / "s.json", {"mode": "enforce", "cycle": 1, "imbalance": 0.5, "hosts": []})
    assert run(tmp_path, "status") == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0] == "balancerd running (pid 4242), mode recommend, cycle 5, imbalance 0.125, last plan 2 moves"
    assert out[2].startswith("host01          active")
    assert run(tmp_path, "status", "--json") == 0
    assert json.loads(capsys.readouterr().out)["running"] is True


def test_status_shows_a_pause_and_a_daemon_before_its_first_cycle(tmp_path: Path, daemon: FakeControl,
                                                                 capsys: pytest.CaptureFixture[str]) -> None:
    daemon.status = lambda: {"pid": 7, "cycle": 0, "mode": "enforce", "paused": True,  # type: ignore[method-assign]
                             "paused_reason": "paused by uid 0 (pid 9)"}
    assert run(tmp_path, "status") == 0
    assert capsys.readouterr().out.splitlines()[0] == (
        "balancerd running (pid 7), mode enforce, cycle 0, imbalance -, last plan 0 moves, "
        "PAUSED: paused by uid 0 (pid 9)")


def test_status_falls_back_to_the_file_when_the_api_fails(tmp_path: Path, daemon: FakeControl,
                                                         capsys: pytest.CaptureFixture[str]) -> None:
    daemon.fail["status"] = RuntimeError("boom")
    status.write(tmp_path / "s.json", {"mode": "enforce", "cycle": 1, "imbalance": 0.5, "hosts": []})
    assert run(tmp_path, "status") == ctl.EXIT_NOT_RUNNING  # no daemon holds the pid file here
    captured = capsys.readouterr()
    assert captured.out.startswith("balancerd not running (stale status from an unknown time), mode enforce, cycle 1")
    assert "the control API failed" in captured.err and "RuntimeError: boom" in captured.err
