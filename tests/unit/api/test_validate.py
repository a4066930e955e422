"""balancerd.api.validate: names, plan ids and bodies."""

from __future__ import annotations

import pytest

from balancerd.api import validate
from balancerd.api.errors import RequestError
from balancerd.api.routes import MAINTENANCE_BODY, NO_BODY, PAUSE_BODY


@pytest.mark.parametrize("name", ["web1", "db-2.example.org", "VM with spaces", "a.b", "ünïcode", "x" * 255])
def test_names_accepted(name: str) -> None:
    assert validate.name("VM", name) == name


@pytest.mark.parametrize("name", ["", "a/b", "/", "..", "a..b", "../x", "a\nb", "a\rb", "tab\there", "nul\0",
                                  "del\x7f", "x" * 256])
def test_names_refused(name: str) -> None:
    with pytest.raises(RequestError) as refused:
        validate.name("host", name)
    assert refused.value.status == 400 and refused.value.message.startswith("host name")


@pytest.mark.parametrize(("raw", "expected"), [("1", 1), ("42", 42), (str(2**63 - 1), 2**63 - 1)])
def test_plan_ids_accepted(raw: str, expected: int) -> None:
    assert validate.plan_id(raw) == expected


@pytest.mark.parametrize("raw", ["0", "-1", "01", "1.5", "1e3", " 1", "abc", "", str(2**63), "٣"])
def test_plan_ids_refused(raw: str) -> None:
    with pytest.raises(RequestError, match="plan id must be a positive integer"):
        validate.plan_id(raw)


def test_bodies() -> None:
    assert validate.body(MAINTENANCE_BODY, b'{"action": "exit"}') == {"action": "exit"}
    assert validate.body(PAUSE_BODY, b"") == {}
    assert validate.body(PAUSE_BODY, b" \n") == {}
    assert validate.body(NO_BODY, b"{}") == {}


@pytest.mark.parametrize(("schema", "raw", "reason"), [
    (MAINTENANCE_BODY, b"", "missing field(s): action"),
    (MAINTENANCE_BODY, b'{"action": null}', "'action' must be a string, got null"),
    (MAINTENANCE_BODY, b'"enter"', "must be a JSON object, got str"),
    (MAINTENANCE_BODY, b"\xff", "not valid JSON"),
    (PAUSE_BODY, b'{"abort_running": Infinity}', "not valid JSON"),
    (PAUSE_BODY, b'{"abort_running": 0}', "'abort_running' must be a boolean, got 0"),
    (NO_BODY, b'{"x": 1}', "unknown field(s) x; allowed: none"),
])
def test_bodies_refused(schema: dict[str, object], raw: bytes, reason: str) -> None:
    with pytest.raises(RequestError) as refused:
        validate.body(schema, raw)
    assert reason in refused.value.message
