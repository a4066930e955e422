"""balancerctl: maintenance edits, unknown hosts, daemon not running, status table."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from balancerd import maintenance
from balancerd.clock import FakeClock
from balancerd.ctl import cli as ctl
from balancerd.service import status


def _config(tmp_path: Path, extra: str = "") -> Path:
    path = tmp_path / "b.toml"
    path.write_text(f'backend = "sim"\n[sim]\nhosts = 3\n[paths]\nmaintenance_file = "m"\njournal = "j.sqlite"\n'
                    f'pid_file = "p.pid"\nstatus_file = "s.json"\n[control]\nsocket = "c.sock"\n{extra}')
    return path


def test_enter_edits_the_file_and_reports_daemon_not_running(tmp_path: Path,
                                                            capsys: pytest.CaptureFixture[str]) -> None:
    code = ctl.main(["--config", str(_config(tmp_path)), "maintenance", "enter", "host02"])
    assert code == ctl.EXIT_NOT_RUNNING
    assert maintenance.read(tmp_path / "m") == frozenset({"host02"})
    assert "not running" in capsys.readouterr().err
    assert ctl.main(["--config", str(_config(tmp_path)), "maintenance", "exit", "host02"]) == ctl.EXIT_NOT_RUNNING
    assert maintenance.read(tmp_path / "m") == frozenset()


def test_exit_of_a_host_the_described_cluster_keeps_in_maintenance_says_so(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "c.toml").write_text('[[hosts]]\nname = "h1"\ncpus = 8\nmemory_mib = 8192\nmaintenance = true\n'
                                     '[[hosts]]\nname = "h2"\ncpus = 8\nmemory_mib = 8192\n')
    path = tmp_path / "b.toml"
    path.write_text('backend = "sim"\n[sim]\ncluster = "c.toml"\n[paths]\nmaintenance_file = "m"\n'
                    'journal = "j.sqlite"\npid_file = "p.pid"\nstatus_file = "s.json"\n[control]\nsocket = "c.sock"\n')
    assert ctl.main(["--config", str(path), "maintenance", "exit", "h1"]) == 1
    assert "h1 stays in maintenance: the described cluster" in capsys.readouterr().err
    assert ctl.main(["--config", str(path), "maintenance", "exit", "h2"]) == ctl.EXIT_NOT_RUNNING  # not fixed


def test_unknown_host_is_refused_with_the_known_ones(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code = ctl.main(["--config", str(_config(tmp_path)), "drain", "hots2"])
    assert code == ctl.EXIT_UNKNOWN_HOST
    err = capsys.readouterr().err
    assert "unknown host 'hots2'" in err and "host01, host02, host03" in err
    assert not (tmp_path / "m").exists()


def test_known_hosts_prefers_the_daemon_status(tmp_path: Path) -> None:
    config_path = _config(tmp_path)
    status.write(tmp_path / "s.json", {"hosts": [{"name": "kvm-a"}]})
    from balancerd import config

    assert ctl.known_hosts(config.load(config_path)) == ("kvm-a",)


def test_bad_config_exits_78(tmp_path: Path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text("mode = 'sometimes'\n")
    assert ctl.main(["--config", str(bad), "status"]) == 78


def test_status_table(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    doc = {"mode": "enforce", "cycle": 2, "imbalance": 0.1, "drain_remaining": {"h1": 2},
           "hosts": [{"name": "h1", "reachable": True, "maintenance": True, "vms": 2, "cpu_util": 0.5,
                      "memory_util": 0.25},
                     {"name": "h2", "reachable": False, "maintenance": False, "vms": 0, "cpu_util": None,
                      "memory_util": None}],
           "in_flight": [{"vm": "v1", "source": "h1", "dest": "h3"}]}
    status.write(tmp_path / "s.json", doc)
    assert ctl.main(["--config", str(_config(tmp_path)), "status"]) == ctl.EXIT_NOT_RUNNING
    out = capsys.readouterr().out
    assert "not running (stale status from an unknown time)" in out
    assert "h1              maintenance      2       -   50%   25%  2 VMs left" in out
    assert "h2              unreachable" in out
    assert "in flight: v1 h1 -> h3" in out


def _drain_doc(vms: int, mem: int, cycle: int, **drain: Any) -> dict[str, Any]:
    entry = {"vms": vms, "mem_mib": mem, "planned": 1, "in_flight": 0, "reachable": True, "blocked": [],
             "failures": [], **drain}
    return {"pid": 1, "mode": "enforce", "cycle": cycle, "imbalance": 0.05, "plan": {"moves": 1},
            "hosts": [{"name": "host02", "reachable": True, "maintenance": True, "vms": vms, "vms_mem_mib": mem,
                       "cpu_util": 0.5, "memory_util": 0.25},
                      {"name": "host01", "reachable": True, "maintenance": False, "vms": 9, "vms_mem_mib": 20480,
                       "cpu_util": 0.7, "memory_util": 0.6}],
            "drain_remaining": {"host02": vms}, "drains": {"host02": entry},
            "in_flight": [{"vm": "v7", "source": "host02", "dest": "host01"}] if entry["in_flight"] else []}


class _ScriptedDaemon(FakeClock):
    """The clock `balancerctl drain --wait` sleeps on: each sleep writes the daemon's next status document."""

    def __init__(self, status_file: Path, docs: list[dict[str, Any]]) -> None:
        super().__init__(0.0)
        self.status_file = status_file
        self.docs = docs
        status.write(status_file, docs.pop(0))

    def sleep(self, seconds: float) -> None:
        super().sleep(seconds)
        if self.docs:
            status.write(self.status_file, self.docs.pop(0))


@pytest.fixture
def running_daemon(tmp_path: Path) -> Iterator[int]:
    """A stand-in balancerd: it holds the pid file's lock, names balancerd on its command line and ignores SIGUSR1
    (balancerctl signals it)."""
    child = subprocess.Popen([sys.executable, "-c", "import fcntl, os, signal, sys, time  # balancerd stand-in\n"
                              "fd = os.open(sys.argv[1], os.O_RDWR | os.O_CREAT)\nfcntl.flock(fd, fcntl.LOCK_EX)\n"
                              "os.write(fd, str(os.getpid()).encode())\n"
                              "signal.signal(signal.SIGUSR1, signal.SIG_IGN)\nprint('ok', flush=True)\n"
                              "time.sleep(60)", str(tmp_path / "p.pid")], stdout=subprocess.PIPE, text=True)
    try:
        assert child.stdout is not None and child.stdout.readline() == "ok\n"
        yield child.pid
    finally:
        child.kill()
        child.wait()


def _drain(tmp_path: Path, docs: list[dict[str, Any]], *extra: str) -> tuple[int, _ScriptedDaemon]:
    clock = _ScriptedDaemon(tmp_path / "s.json", docs)
    return ctl.main(["--config", str(_config(tmp_path)), "drain", "host02", "--wait", *extra], clock=clock), clock


def test_drain_wait_shows_progress_until_the_host_is_empty(tmp_path: Path, running_daemon: int,
                                                           capsys: pytest.CaptureFixture[str]) -> None:
    docs = [_drain_doc(4, 8192, 1), _drain_doc(4, 8192, 1, in_flight=1), _drain_doc(2, 4096, 2),
            _drain_doc(0, 0, 3)]
    code, clock = _drain(tmp_path, docs)
    out = capsys.readouterr().out.splitlines()
    assert code == 0
    assert maintenance.read(tmp_path / "m") == frozenset({"host02"})
    assert out[0] == "host02 enters maintenance"
    assert out[1] == "host02 [------------------------]   0%  4 VMs left  8.0 GiB left  ETA ?  0 in flight"
    assert out[2].endswith("4 VMs left  8.0 GiB left  ETA ?  1 in flight")
    assert out[3] == "host02 [############------------]  50%  2 VMs left  4.0 GiB left  ETA 1s  0 in flight"
    assert out[-1] == "host02: drained: host02 is empty"
    assert clock.now() == 1.5


def test_drain_wait_json_lines(tmp_path: Path, running_daemon: int, capsys: pytest.CaptureFixture[str]) -> None:
    code, _ = _drain(tmp_path, [_drain_doc(2, 2048, 1), _drain_doc(0, 0, 2)], "--json")
    events = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert code == 0
    assert [e["event"] for e in events] == ["maintenance", "progress", "progress", "drained"]
    assert events[1]["vms_left"] == 2 and events[1]["mem_mib_left"] == 2048 and events[1]["eta_s"] is None
    assert events[-1] == {"event": "drained", "host": "host02", "reason": "host02 is empty", "exit_code": 0}


def test_drain_wait_fails_when_migrations_keep_failing(tmp_path: Path, running_daemon: int,
                                                      capsys: pytest.CaptureFixture[str]) -> None:
    fails = [{"vm": f"v{i}", "dest": "host01", "outcome": "failed", "detail": "no route", "finished_at": i}
             for i in range(3)]
    docs = [_drain_doc(3, 3072, 1), _drain_doc(3, 3072, 2, failures=fails[:2]),
            _drain_doc(3, 3072, 3, failures=fails)]
    code, _ = _drain(tmp_path, docs, "--max-failures", "3")
    assert code == ctl.EXIT_FAILED
    assert "host02: failed: 3 migrations from host02 failed; last: v2 -> host01 failed: no route" in \
        capsys.readouterr().err


def test_drain_wait_stalls_when_nothing_can_move(tmp_path: Path, running_daemon: int,
                                                capsys: pytest.CaptureFixture[str]) -> None:
    blocked = [{"vm": "big", "reasons": ["no host has room"]}]
    docs = [_drain_doc(1, 65536, c, planned=0, blocked=blocked) for c in (1, 2, 3)]
    code, _ = _drain(tmp_path, docs)
    assert code == ctl.EXIT_STALLED
    assert "stalled: nothing planned or running away from host02 for 3 cycles: big: no host has room" in \
        capsys.readouterr().err


def test_drain_wait_needs_a_running_daemon(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code = ctl.main(["--config", str(_config(tmp_path)), "drain", "host02", "--wait"], clock=FakeClock())
    assert code == ctl.EXIT_NOT_RUNNING
    assert maintenance.read(tmp_path / "m") == frozenset({"host02"})


def test_status_table_with_drain_details(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    doc = _drain_doc(2, 3072, 7, in_flight=1, blocked=[{"vm": "big", "reasons": ["no room", "pinned"]}],
                     failures=[{"vm": "v1", "dest": "host01", "outcome": "aborted", "detail": "deadline",
                                "finished_at": 1.0}])
    status.write(tmp_path / "s.json", doc)
    assert ctl.main(["--config", str(_config(tmp_path)), "status"]) == ctl.EXIT_NOT_RUNNING
    out = capsys.readouterr().out.splitlines()
    assert out[0] == ("balancerd not running (stale status from an unknown time), mode enforce, cycle 7, "
                      "imbalance 0.050, last plan 1 moves")
    assert out[1] == "HOST            STATE          VMS  VM GiB   CPU   MEM  DRAIN"
    assert out[2] == "host02          maintenance      2     3.0   50%   25%  2 VMs / 3.0 GiB left, 1 in flight"
    assert out[3] == "host01          active           9    20.0   70%   60%"
    assert out[4:] == ["in flight: v7 host02 -> host01", "blocked on host02: big: no room; pinned",
                       "failed from host02: v1 -> host01 aborted: deadline"]


def test_status_json(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    status.write(tmp_path / "s.json", _drain_doc(0, 0, 2))
    assert ctl.main(["--config", str(_config(tmp_path)), "status", "--json"]) == ctl.EXIT_NOT_RUNNING
    doc = json.loads(capsys.readouterr().out)
    assert doc["running"] is False and doc["drains"]["host02"]["vms"] == 0


def test_status_after_the_daemon_died_says_the_status_is_stale(tmp_path: Path,
                                                              capsys: pytest.CaptureFixture[str]) -> None:
    status.write(tmp_path / "s.json", {"pid": 999_999, "mode": "enforce", "cycle": 4, "imbalance": 0.1,
                                       "updated_at": 1_700_000_000.0, "hosts": []})
    (tmp_path / "p.pid").write_text("999999\n")  # what kill -9 leaves behind: a file nobody holds
    assert ctl.main(["--config", str(_config(tmp_path)), "status"]) == ctl.EXIT_NOT_RUNNING
    assert capsys.readouterr().out.startswith(
        "balancerd not running (stale status from 2023-11-14 22:13:20 UTC), mode enforce, cycle 4")


def test_status_exits_7_with_the_error_when_the_last_cycle_failed(tmp_path: Path, running_daemon: int,
                                                                 capsys: pytest.CaptureFixture[str]) -> None:
    status.write(tmp_path / "s.json", {"pid": running_daemon, "mode": "enforce", "cycle": 4, "imbalance": 0.1,
                                       "hosts": [], "last_cycle_ok": False, "last_error": "journal locked",
                                       "last_error_at": 1_700_000_060.0, "last_good_cycle_at": 1_700_000_000.0})
    assert ctl.main(["--config", str(_config(tmp_path)), "status"]) == ctl.EXIT_CYCLE_FAILED
    lines = capsys.readouterr().out.splitlines()
    assert lines[1] == "LAST CYCLE FAILED at 2023-11-14 22:14:20 UTC: journal locked"
    assert lines[2].startswith("figures below are from the last good cycle, 2023-11-14 22:13:20 UTC (")


def _small(tmp_path: Path) -> Path:
    """Three simulated hosts with 24 VMs: small enough that one host's VMs fit on the other two."""
    path = tmp_path / "small.toml"
    path.write_text('backend = "sim"\n[sim]\nhosts = 3\nvms = 24\nseed = 3\n[paths]\nmaintenance_file = "m"\n'
                    'journal = "j.sqlite"\npid_file = "p.pid"\nstatus_file = "s.json"\n[control]\nsocket = "c.sock"\n')
    return path


def test_drain_check_without_a_daemon_computes_from_a_fresh_collection(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config_path = _small(tmp_path)
    assert ctl.main(["--config", str(config_path), "drain", "--check", "host02", "--json"]) == 0
    captured = capsys.readouterr()
    answer = json.loads(captured.out)
    assert (answer["host"], answer["feasible"], answer["source"], answer["blockers"]) == (
        "host02", True, "fresh collection", [])
    assert answer["moves"] and {m["dest"] for m in answer["moves"]} <= {"host01", "host03"}
    assert answer["estimated_s"] > 0
    assert "computed here from a fresh collection" in captured.err
    assert not (tmp_path / "m").exists()


def test_drain_check_counts_the_hosts_already_in_maintenance(tmp_path: Path,
                                                             capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "m").write_text("host01\nhost03\n")
    assert ctl.main(["--config", str(_small(tmp_path)), "drain", "--check", "host02"]) == ctl.EXIT_REFUSED
    out = capsys.readouterr().out.splitlines()
    assert out[0].startswith("drain of host02 is NOT feasible")
    assert any(line.startswith("blocked ") and "2 hosts are in maintenance (host01, host03)" in line for line in out)
    assert out[-1] == "'balancerctl drain --force host02' would drain what fits and leave these"
    assert (tmp_path / "m").read_text() == "host01\nhost03\n"


def test_drain_force_without_a_daemon_marks_the_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert ctl.main(["--config", str(_config(tmp_path)), "drain", "host02", "--force"]) == ctl.EXIT_NOT_RUNNING
    assert maintenance.read_entries(tmp_path / "m") == (("host02", True),)
