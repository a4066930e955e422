"""balancerd.api.app over a real Unix socket: each route's call, refusals of malformed requests, error mapping."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from structlog.testing import capture_logs

from balancerd.api.app import MAX_BODY_BYTES
from balancerd.api.protocol import Caller, ConflictError, ControlError, NotFoundError
from tests.unit.api.fakes import PLAN, STATUS, FakeControl, call, control_config, serving

ME = Caller(uid=0, pid=os.getpid(), via="unix")


@pytest.fixture
def api(tmp_path: Path) -> Iterator[tuple[Path, FakeControl]]:
    path = tmp_path / "c.sock"
    with serving(control_config(path)) as (_server, control):
        yield path, control


@pytest.mark.parametrize(("method", "target", "body", "expected"), [
    ("GET", "/v1/status", None, ("status", ())),
    ("GET", "/v1/plan", None, ("plan", ())),
    ("GET", "/v1/explain/web1", None, ("explain", ("web1",))),
    ("GET", "/v1/explain/web%201.example", None, ("explain", ("web 1.example",))),
    ("GET", "/v1/drain/host02/check", None, ("drain_check", ("host02",))),
    ("POST", "/v1/maintenance/host02", '{"action": "enter"}', ("maintenance", ("host02", True, ME, False, False))),
    ("POST", "/v1/maintenance/host02", '{"action": "enter", "force": true}',
     ("maintenance", ("host02", True, ME, True, False))),
    ("POST", "/v1/maintenance/host02", '{"action": "exit"}', ("maintenance", ("host02", False, ME, False, False))),
    ("POST", "/v1/maintenance/host02", '{"action": "exit", "restore": true}',
     ("maintenance", ("host02", False, ME, False, True))),
    ("POST", "/v1/pause", '{"abort_running": true}', ("pause", (True, ME))),
    ("POST", "/v1/pause", "", ("pause", (False, ME))),
    ("POST", "/v1/resume", None, ("resume", (ME,))),
    ("POST", "/v1/approve/12", "{}", ("approve", (12, ME))),
    ("POST", "/v1/release/web1", "{}", ("release", ("web1", ME))),
    ("POST", "/v1/release/web%201", None, ("release", ("web 1", ME))),
])
def test_each_route_makes_its_call(api: tuple[Path, FakeControl], method: str, target: str, body: str | None,
                                   expected: tuple[str, tuple[Any, ...]]) -> None:
    path, control = api
    status, answer = call(path, method, target, body)
    assert status == 200, answer
    assert control.calls == [expected]


def test_reads_answer_what_control_returns(api: tuple[Path, FakeControl]) -> None:
    path, _ = api
    assert call(path, "GET", "/v1/status") == (200, STATUS)
    assert call(path, "GET", "/v1/plan") == (200, PLAN)


@pytest.mark.parametrize(("method", "target", "body", "status", "reason"), [
    ("POST", "/v1/maintenance/host02", "{not json", 400, "not valid JSON"),
    ("POST", "/v1/maintenance/host02", "NaN", 400, "not valid JSON"),
    ("POST", "/v1/maintenance/host02", '["enter"]', 400, "must be a JSON object, got list"),
    ("POST", "/v1/maintenance/host02", "{}", 400, "missing field(s): action"),
    ("POST", "/v1/maintenance/host02", '{"action": "leave"}', 400, "'action' must be one of \"enter\", \"exit\""),
    ("POST", "/v1/maintenance/host02", '{"action": 1}', 400, "'action' must be a string, got 1"),
    ("POST", "/v1/maintenance/host02", '{"action": "enter", "now": true}', 400, "unknown field(s) now"),
    ("POST", "/v1/maintenance/a%2Fb", '{"action": "enter"}', 400, "host name 'a/b' is refused"),
    ("POST", "/v1/maintenance/a%0Ab", '{"action": "enter"}', 400, "host name 'a\\nb' is refused"),
    ("POST", "/v1/maintenance/%2E%2E", '{"action": "enter"}', 400, "host name '..' is refused"),
    ("GET", "/v1/explain/..%2Fetc", None, 400, "VM name '../etc' is refused"),
    ("GET", "/v1/explain/" + "v" * 256, None, 400, "VM name must have 1 to 255 characters"),
    ("POST", "/v1/pause", '{"abort_running": "yes"}', 400, "'abort_running' must be a boolean"),
    ("POST", "/v1/pause", '{"abort_running": 1}', 400, "'abort_running' must be a boolean"),
    ("POST", "/v1/resume", '{"force": true}', 400, "unknown field(s) force; allowed: none"),
    ("POST", "/v1/approve/abc", None, 400, "plan id must be a positive integer, got 'abc'"),
    ("POST", "/v1/approve/0", None, 400, "plan id must be a positive integer"),
    ("POST", "/v1/approve/-3", None, 400, "plan id must be a positive integer"),
    ("POST", "/v1/approve/99999999999999999999", None, 400, "plan id must be a positive integer"),
    ("POST", "/v1/release/..%2Fetc", None, 400, "VM name '../etc' is refused"),
    ("POST", "/v1/release/web1", '{"all": true}', 400, "unknown field(s) all; allowed: none"),
    ("GET", "/v1/release/web1", None, 405, "allowed: POST"),
    ("GET", "/v1/nothing", None, 404, "no route GET /v1/nothing; GET /openapi.json lists the routes"),
    ("POST", "/v1/explain/web1", None, 405, "POST is not allowed on /v1/explain/web1; allowed: GET"),
    ("GET", "/v1/pause", None, 405, "allowed: POST"),
])
def test_malformed_requests_are_refused_with_a_reason_and_reach_nothing(
        api: tuple[Path, FakeControl], method: str, target: str, body: str | None, status: int,
        reason: str) -> None:
    path, control = api
    got, answer = call(path, method, target, body)
    assert got == status
    assert reason in answer["error"]
    assert control.calls == []


def test_a_body_over_the_limit_is_refused(api: tuple[Path, FakeControl]) -> None:
    path, control = api
    body = json.dumps({"action": "enter", "pad": "x" * MAX_BODY_BYTES})
    status, answer = call(path, "POST", "/v1/maintenance/host02", body)
    assert status == 413 and "body size" in answer["error"]
    assert control.calls == []


@pytest.mark.parametrize(("error", "status"), [
    (NotFoundError("VM 'ghost' is not in the daemon's last snapshot"), 404),
    (ConflictError("approve is for mode 'recommend'"), 409),
    (ControlError("maintenance file unwritable"), 400),
])
def test_control_errors_answer_with_their_status_and_message(api: tuple[Path, FakeControl], error: ControlError,
                                                             status: int) -> None:
    path, control = api
    control.fail["explain"] = error
    assert call(path, "GET", "/v1/explain/ghost") == (status, {"error": error.message})


def test_an_exception_in_control_is_a_500_and_a_log_line_and_the_server_goes_on(
        api: tuple[Path, FakeControl]) -> None:
    path, control = api
    control.fail["plan"] = RuntimeError("boom")
    with capture_logs() as logs:
        status, answer = call(path, "GET", "/v1/plan")
    assert (status, answer) == (500, {"error": "internal error: RuntimeError: boom"})
    failed = [e for e in logs if e["event"] == "api call failed"]
    assert failed and failed[0]["log_level"] == "error" and failed[0]["path"] == "/v1/plan"
    assert call(path, "GET", "/v1/status") == (200, STATUS)


def test_a_mutating_call_is_logged_with_its_caller(api: tuple[Path, FakeControl]) -> None:
    path, _ = api
    with capture_logs() as logs:
        assert call(path, "POST", "/v1/resume")[0] == 200
    assert {"event": "api action", "method": "POST", "path": "/v1/resume", "caller": ME.describe(),
            "log_level": "info"} in logs
