"""Tests of balancerd.observability.logging: JSON lines carry only the fields that have values."""

from __future__ import annotations

import json
import logging

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


def test_a_library_warning_through_the_standard_library_is_a_json_line(
        capsys: pytest.CaptureFixture[str]) -> None:
    blog.configure("info", "json")
    logging.getLogger("apscheduler.executors.default").warning("Run time of job %s was missed", "cycle")
    (line,) = _lines(capsys)
    assert line["event"] == "Run time of job cycle was missed"
    assert (line["level"], line["logger"]) == ("warning", "apscheduler.executors.default")
    assert "timestamp" in line


def test_library_info_chatter_is_left_out_unless_debug(
        capsys: pytest.CaptureFixture[str]) -> None:
    blog.configure("info", "json")
    logging.getLogger("apscheduler.scheduler").info("Added job")
    assert capsys.readouterr().out == ""
    blog.configure("debug", "json")
    logging.getLogger("apscheduler.scheduler").info("Added job")
    (line,) = _lines(capsys)
    assert line["event"] == "Added job"


def test_configuring_twice_installs_one_handler() -> None:
    blog.configure("info", "json")
    blog.configure("warning", "json")
    ours = [h for h in logging.getLogger().handlers if type(h).__name__ == "_ForeignHandler"]
    assert len(ours) == 1
