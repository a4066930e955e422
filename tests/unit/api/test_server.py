"""ApiServer on a real Unix socket: mode and group, who may mutate, start and stop, a slow call blocks nothing."""

from __future__ import annotations

import grp
import json
import os
import shutil
import stat
import tempfile
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from balancerd.api.errors import ApiError
from balancerd.api.server import ApiServer
from balancerd.errors import ConfigError
from tests.unit.api.fakes import PLAN, STATUS, FakeControl, call, control_config, serving

NOBODY = 65534
as_root = pytest.mark.skipif(os.geteuid() != 0, reason="needs root to own the socket and to drop privileges")


@pytest.fixture
def open_dir() -> Iterator[Path]:
    """A directory every user may traverse (pytest's tmp_path is private to root)."""
    path = Path(tempfile.mkdtemp(prefix="bd-api-"))
    os.chmod(path, 0o755)
    try:
        yield path
    finally:
        shutil.rmtree(path)


def as_nobody(socket_path: Path, method: str, target: str, body: str | None = None) -> tuple[int, Any]:
    """``call`` from a forked child that dropped to uid and gid 65534 (nobody, nogroup) first."""
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: never returns into pytest
        try:
            os.close(read_end)
            os.setgroups([])
            os.setgid(NOBODY)
            os.setuid(NOBODY)
            answer: Any = call(socket_path, method, target, body)
        except BaseException as exc:
            answer = ("error", f"{type(exc).__name__}: {exc}")
        os.write(write_end, json.dumps(answer).encode())
        os._exit(0)
    os.close(write_end)
    with os.fdopen(read_end, "rb") as pipe:
        raw = pipe.read()
    os.waitpid(pid, 0)
    status, document = json.loads(raw)
    return status, document


@as_root
def test_the_socket_is_0660_root_and_the_configured_group_in_a_new_0755_directory(tmp_path: Path) -> None:
    path = tmp_path / "run" / "balancerd" / "control.sock"
    with serving(control_config(path, group="nogroup")):
        info = os.stat(path)
        assert stat.S_ISSOCK(info.st_mode)
        assert stat.S_IMODE(info.st_mode) == 0o660
        assert (info.st_uid, info.st_gid) == (0, grp.getgrnam("nogroup").gr_gid)
        assert stat.S_IMODE(os.stat(path.parent).st_mode) == 0o755
        assert call(path, "GET", "/v1/status") == (200, STATUS)


def test_an_empty_group_is_roots_group(tmp_path: Path) -> None:
    with serving(control_config(tmp_path / "c.sock")):
        assert os.stat(tmp_path / "c.sock").st_gid == 0


def test_an_unknown_group_is_a_config_error_naming_control_group(tmp_path: Path) -> None:
    server = ApiServer(FakeControl(), control_config(tmp_path / "c.sock", group="no-such-group-here"))
    with pytest.raises(ConfigError, match=r"control\.group.*no-such-group-here.*no such group"):
        server.start()
    assert not (tmp_path / "c.sock").exists()


@as_root
def test_a_member_of_the_group_may_read_but_not_change_anything(open_dir: Path) -> None:
    path = open_dir / "control.sock"
    with serving(control_config(path, group="nogroup")) as (_server, control):
        assert as_nobody(path, "GET", "/v1/plan") == (200, PLAN)
        for target, body in (("/v1/pause", '{"abort_running": true}'), ("/v1/maintenance/host01",
                             '{"action": "enter"}'), ("/v1/resume", None), ("/v1/approve/12", None)):
            status, answer = as_nobody(path, "POST", target, body)
            assert status == 403
            assert answer["error"] == f"uid {NOBODY} may only read: changing the daemon's state needs root"
        assert control.names() == ["plan"]


@as_root
def test_the_mode_keeps_out_who_is_not_in_the_group(open_dir: Path) -> None:
    path = open_dir / "control.sock"
    with serving(control_config(path)) as (_server, control):  # root's group: nobody may not even connect
        status, answer = as_nobody(path, "GET", "/v1/status")
        assert (status, answer.split(":")[0]) == ("error", "PermissionError")
        assert control.calls == []


def test_stop_removes_the_socket_and_a_second_stop_is_harmless(tmp_path: Path) -> None:
    path = tmp_path / "c.sock"
    server = ApiServer(FakeControl(), control_config(path))
    server.start()
    assert path.exists()
    server.stop()
    assert not path.exists()
    server.stop()


def test_a_server_can_start_again_after_stop(tmp_path: Path) -> None:
    path = tmp_path / "c.sock"
    server = ApiServer(FakeControl(), control_config(path))
    server.start()
    server.stop()
    server.start()
    try:
        assert call(path, "GET", "/v1/status")[0] == 200
    finally:
        server.stop()


def test_a_live_server_is_not_robbed_of_its_socket(tmp_path: Path) -> None:
    path = tmp_path / "c.sock"
    with serving(control_config(path)) as (_first, control):
        second = ApiServer(FakeControl(), control_config(path))
        with pytest.raises(ApiError, match="another process answers on the control socket"):
            second.start()
        second.stop()
        assert call(path, "GET", "/v1/status") == (200, STATUS)
        assert control.names() == ["status"]
    assert not path.exists()


def test_a_slow_call_does_not_block_other_requests(tmp_path: Path) -> None:
    path = tmp_path / "c.sock"
    control = FakeControl()
    control.hold["plan"] = threading.Event()
    with serving(control_config(path), control):
        answers: list[tuple[int, Any]] = []
        slow = threading.Thread(target=lambda: answers.append(call(path, "GET", "/v1/plan")))
        slow.start()
        assert control.entered.setdefault("plan", threading.Event()).wait(10)
        assert call(path, "GET", "/v1/status") == (200, STATUS)
        control.hold["plan"].set()
        slow.join(10)
        assert answers == [(200, PLAN)]
