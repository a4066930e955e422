"""balancerd.api.client: answers, refusals with the server's reason, and "nobody listens" told apart."""

from __future__ import annotations

import os
import socket
from pathlib import Path

import httpx
import pytest

from balancerd.api import client as client_mod
from balancerd.api.client import ControlClient
from balancerd.api.errors import ApiClientError, NotListeningError, RefusedError
from balancerd.api.protocol import Caller, ConflictError
from tests.unit.api.fakes import PLAN, STATUS, control_config, serving

ME = Caller(uid=0, pid=os.getpid(), via="unix")


def test_every_method_reaches_its_route(tmp_path: Path) -> None:
    path = tmp_path / "c.sock"
    with serving(control_config(path)) as (_server, control):
        api = ControlClient(path)
        assert api.status() == STATUS
        assert api.plan() == PLAN
        assert api.explain("web 1")["vm"] == "web 1"
        assert api.maintenance("host02", enter=True)["maintenance"] == ["host02"]
        assert api.maintenance("host03", enter=True, force=True)["maintenance"] == ["host03"]
        assert api.maintenance("host03", enter=False, restore=True)["maintenance"] == []
        assert api.drain_check("host02")["feasible"] is True
        assert api.pause(abort_running=True)["aborted"][0]["vm"] == "web1"
        assert api.resume() == {"paused": False, "reason": None}
        assert api.approve(12)["plan_id"] == 12
    assert control.calls == [("status", ()), ("plan", ()), ("explain", ("web 1",)),
                             ("maintenance", ("host02", True, ME, False, False)),
                             ("maintenance", ("host03", True, ME, True, False)),
                             ("maintenance", ("host03", False, ME, False, True)),
                             ("drain_check", ("host02",)), ("pause", (True, ME)), ("resume", (ME,)),
                             ("approve", (12, ME))]


def test_a_refusal_carries_the_status_and_the_servers_reason(tmp_path: Path) -> None:
    path = tmp_path / "c.sock"
    with serving(control_config(path)) as (_server, control):
        control.fail["approve"] = ConflictError("plan 12 is 900 s old")
        with pytest.raises(RefusedError) as refused:
            ControlClient(path).approve(12)
        assert (refused.value.status, refused.value.reason) == (409, "plan 12 is 900 s old")
        with pytest.raises(RefusedError) as bad:
            ControlClient(path).explain("a/b")
        assert bad.value.status == 400 and "'a/b' is refused" in bad.value.reason


def test_no_socket_file_is_not_listening(tmp_path: Path) -> None:
    with pytest.raises(NotListeningError, match="no control socket"):
        ControlClient(tmp_path / "absent.sock").status()


def test_a_stale_socket_file_is_not_listening(tmp_path: Path) -> None:
    dead = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    dead.bind(str(tmp_path / "c.sock"))
    dead.close()
    with pytest.raises(NotListeningError, match="nothing listens"):
        ControlClient(tmp_path / "c.sock").status()


def test_after_stop_nothing_listens(tmp_path: Path) -> None:
    path = tmp_path / "c.sock"
    with serving(control_config(path)):
        assert ControlClient(path).status() == STATUS
    with pytest.raises(NotListeningError):
        ControlClient(path).status()


def test_permission_denied_is_not_taken_for_a_missing_daemon() -> None:
    try:
        raise PermissionError(13, "Permission denied")
    except PermissionError as cause:
        try:
            raise httpx.ConnectError("[Errno 13] Permission denied") from cause
        except httpx.ConnectError as exc:
            error = client_mod._connect_error(Path("/run/x.sock"), exc)
    assert type(error) is ApiClientError and "permission denied on /run/x.sock" in str(error)


def test_a_server_that_never_answers_times_out(tmp_path: Path) -> None:
    mute = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    mute.bind(str(tmp_path / "c.sock"))
    mute.listen()
    try:
        with pytest.raises(ApiClientError, match="did not answer") as timed_out:
            ControlClient(tmp_path / "c.sock", read_timeout_s=0.2).status()
        assert not isinstance(timed_out.value, NotListeningError)
    finally:
        mute.close()
