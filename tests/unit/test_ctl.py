"""balancerctl: maintenance edits, unknown hosts, daemon not running, status table."""

from __future__ import annotations

from pathlib import Path

import pytest

from balancerd import ctl, maintenance
from balancerd.service import status


def _config(tmp_path: Path, extra: str = "") -> Path:
    path = tmp_path / "b.toml"
    path.write_text(f'backend = "sim"\n[sim]\nhosts = 3\n[paths]\nmaintenance_file = "m"\njournal = "j.sqlite"\n'
                    f'pid_file = "p.pid"\nstatus_file = "s.json"\n{extra}')
    return path


def test_enter_edits_the_file_and_reports_daemon_not_running(tmp_path: Path,
                                                            capsys: pytest.CaptureFixture[str]) -> None:
    code = ctl.main(["--config", str(_config(tmp_path)), "maintenance", "enter", "host02"])
    assert code == ctl.EXIT_NOT_RUNNING
    assert maintenance.read(tmp_path / "m") == frozenset({"host02"})
    assert "not running" in capsys.readouterr().err
    assert ctl.main(["--config", str(_config(tmp_path)), "maintenance", "exit", "host02"]) == ctl.EXIT_NOT_RUNNING
    assert maintenance.read(tmp_path / "m") == frozenset()


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
    assert ctl.main(["--config", str(_config(tmp_path)), "status"]) == 0
    out = capsys.readouterr().out
    assert "NOT RUNNING" in out
    assert "h1              maintenance       2     50%     25%  2" in out
    assert "h2              unreachable" in out
    assert "in flight: v1 h1 -> h3" in out
