"""Tests of balancerd.observability.logging: JSON lines carry only the fields that have values."""

from __future__ import annotations

import json

import pytest
import structlog

from balancerd.observability import logging as blog


def _lines(capsys: pytest.CaptureFixture[str]) -> list[dict[str, object]]:
    return [json.loads(line) for line in capsys.readouterr().out.splitlines()]


def test_fields_given_as_none_are_left_out_of_the_json_line(capsys: pytest.CaptureFixture[str]) -> None:
    blog.configure("info", "json")
    structlog.get_logger().info("migration started", vm="vm0001", outcome=None, seconds=None, moves=0)
    (line,) = _lines(capsys)
    assert line["event"] == "migration started"
    assert line["vm"] == "vm0001"
    assert line["moves"] == 0
    assert "outcome" not in line and "seconds" not in line
    assert None not in line.values()


def test_falsy_values_that_are_not_none_stay(capsys: pytest.CaptureFixture[str]) -> None:
    blog.configure("info", "json")
    structlog.get_logger().info("cycle", errors=[], detail="", failed=0, ok=False)
    (line,) = _lines(capsys)
    assert (line["errors"], line["detail"], line["failed"], line["ok"]) == ([], "", 0, False)
