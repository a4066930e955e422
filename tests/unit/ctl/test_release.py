"""balancerctl release: through the control API when a daemon answers, on the journal file when none does."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from structlog.testing import capture_logs

from balancerd.api.protocol import ControlError
from balancerd.ctl import cli as ctl
from balancerd.ctl import views
from balancerd.journal import Journal
from tests.unit.api.fakes import FakeControl, control_config, serving
from tests.unit.ctl.test_cli_api import ME, run


@pytest.fixture
def daemon(tmp_path: Path) -> Iterator[FakeControl]:
    """A control API on the socket of ``test_cli_api``'s config, over a FakeControl."""
    with capture_logs(), serving(control_config(tmp_path / "c.sock")) as (_server, control):
        yield control


def test_release_asks_the_daemon(tmp_path: Path, daemon: FakeControl, capsys: pytest.CaptureFixture[str]) -> None:
    assert run(tmp_path, "release", "web1") == 0
    assert daemon.calls == [("release", ("web1", ME))]
    assert capsys.readouterr().out.splitlines() == ["web1: nothing to release (no failed moves remembered)"]
    assert not (tmp_path / "j.sqlite").exists()


def test_release_json_is_the_apis_json(tmp_path: Path, daemon: FakeControl,
                                       capsys: pytest.CaptureFixture[str]) -> None:
    assert run(tmp_path, "release", "web1", "--json") == 0
    assert json.loads(capsys.readouterr().out) == {"vm": "web1", "released": True, "offline": False, "cleared": []}


def test_without_a_daemon_the_journal_file_is_released(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    journal = Journal(tmp_path / "j.sqlite")
    journal.record_failure("web1", "host02", 10.0, "migration failed: reset")
    journal.record_failure("db1", "host02", 10.0, "migration failed: reset")
    journal.close()
    assert run(tmp_path, "release", "web1") == 0
    captured = capsys.readouterr()
    assert captured.out.splitlines() == [
        "released web1: 1 failure record(s) cleared in the journal file (balancerd is not running); it may move again",
        "  host02: 1 failure(s), last: migration failed: reset"]
    assert f"released in the journal {tmp_path / 'j.sqlite'}" in captured.err
    reopened = Journal(tmp_path / "j.sqlite")
    try:
        assert [r.vm for r in reopened.failures()] == ["db1"]
        action = reopened.actions()[0]
        assert action.action == "release" and action.detail == "web1: 1 failure records cleared"
        assert "on the journal file" in action.caller
    finally:
        reopened.close()


def test_without_a_daemon_or_a_journal_there_is_nothing_to_release(tmp_path: Path,
                                                                   capsys: pytest.CaptureFixture[str]) -> None:
    assert run(tmp_path, "release", "web1", "--json") == 0
    assert json.loads(capsys.readouterr().out) == {"vm": "web1", "released": False, "offline": True, "cleared": []}
    assert not (tmp_path / "j.sqlite").exists()


@pytest.mark.parametrize("name", ["../etc", "a/b", "a\nb"])
def test_a_bad_vm_name_is_refused_before_anything_is_asked(tmp_path: Path, name: str,
                                                           capsys: pytest.CaptureFixture[str]) -> None:
    assert run(tmp_path, "release", name) == 1
    assert "is refused" in capsys.readouterr().err
    assert not (tmp_path / "j.sqlite").exists()


def test_a_refused_release_exits_6(tmp_path: Path, daemon: FakeControl, capsys: pytest.CaptureFixture[str]) -> None:
    daemon.fail["release"] = ControlError("release not done: journal locked")
    assert run(tmp_path, "release", "web1") == ctl.EXIT_REFUSED
    assert "(400): release not done" in capsys.readouterr().err


def test_held_lines_in_the_status() -> None:
    doc = {"held": [{"vm": "a", "reasons": ["failed 3 times on h2", "failed 3 times on h3"]}],
           "failures": [{"vm": "a", "dest": "h2", "count": 3, "last_error": "x"},
                        {"vm": "b", "dest": "h1", "count": 1, "last_error": "pre-flight failed: cpu"}]}
    assert views.held_lines(doc) == [
        "HELD a: failed 3 times on h2; failed 3 times on h3 (balancerctl release a)",
        "failed moves: b -> h1 x1: pre-flight failed: cpu"]
    assert views.held_lines({}) == []


def test_the_status_table_shows_held_vms() -> None:
    doc = {"running": True, "pid": 1, "hosts": [], "held": [{"vm": "a", "reasons": ["failed 3 times on h2"]}]}
    assert ctl.status_text(doc).splitlines()[-1] == "HELD a: failed 3 times on h2 (balancerctl release a)"


def test_explain_text_shows_the_vms_remembered_failures() -> None:
    doc = {"vm": "a", "plan_id": 1, "snapshot_seq": 2, "reasons": ["a is held"],
           "failures": [{"vm": "a", "dest": "h2", "count": 2, "retry_at": 9.0, "last_error": "link down"}]}
    assert views.explain_text(doc).splitlines() == [
        "a in plan 1 (snapshot 2):", "  a is held",
        "failed towards h2 x2 (remembered until released or it moves there): link down"]
