"""Tests of balancerd.simulate.report: the JSON keys, the reference comparison, the plots and the page."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from balancerd.config import from_table
from balancerd.simulate import report
from balancerd.simulate.cluster import build
from balancerd.simulate.runner import START, Replay, ReplayResult, replay_config

from .conftest import tiny_preset, workload

REQUIRED = ("energy_kwh", "slatah", "pdm", "slav", "esv", "migrations", "ping_pong_moves", "moves_per_vm_per_day",
            "max_moves_per_vm_day", "gib_moved", "vms", "hosts", "simulated_seconds", "wall_seconds")


@pytest.fixture(scope="module")
def result(tmp_path_factory: pytest.TempPathFactory) -> ReplayResult:
    tmp = tmp_path_factory.mktemp("replay")
    config = from_table({"policy": {"strategy": "consolidate", "headroom_pct": 0},
                         "predict": {"method": "ewma", "horizon_s": 300},
                         "throttle": {"migrations_per_hour": 1000}}, base=tmp)
    c = build(workload([[90.0] * 2 + [10.0] * 14 for _ in range(4)]), tiny_preset(hosts=4), START)
    return Replay(c, replay_config(config, c, None, tmp)).run()


def test_document_has_every_required_key_as_a_number(result: ReplayResult) -> None:
    doc = report.document(result, {"trace": "planetlab:/data/other", "preset": "tiny", "strategy": "consolidate"})
    for key in REQUIRED:
        assert isinstance(doc[key], int | float), key
    assert 0.0 <= doc["slatah"] <= 1.0 and 0.0 <= doc["pdm"] <= 1.0
    assert doc["slav"] == pytest.approx(doc["slatah"] * doc["pdm"])
    assert "reference" not in doc
    assert len(doc["series"]["hours"]) == 16
    assert len(doc["series"]["migrations_per_hour"]) == 2
    json.dumps(doc, allow_nan=False)


def test_a_planetlab_day_is_compared_with_lr_mmt(result: ReplayResult) -> None:
    doc = report.document(result, {"trace": "planetlab:/x/planetlab/20110306"})
    assert doc["reference"]["migrations"] == 21_661 and doc["reference"]["energy_kwh"] == 128.0
    assert doc["acceptance"]["migrations_le_half_reference"] is True
    assert all(isinstance(v, bool) for v in doc["acceptance"].values())
    assert set(doc["acceptance"]) >= {"slav_le_reference", "energy_le_1.1x_reference", "no_ping_pong", "all"}


def test_acceptance_fails_when_a_target_is_missed() -> None:
    ref = {"slav": 5.1e-5, "migrations": 100, "energy_kwh": 10.0}
    doc = {"slav": 1e-6, "slatah": 0.5, "migrations": 51, "energy_kwh": 5.0, "ping_pong_moves": 0, "wall_seconds": 1.0,
           "simulated_seconds": 86_400.0}
    assert report.acceptance(doc, ref)["all"] is False
    passed = report.acceptance({**doc, "migrations": 50}, ref)
    assert passed["all"] is True and passed["slatah_le_reference (info)"] is False  # information only


def test_write_makes_the_json_the_pngs_and_a_page_that_shows_them(result: ReplayResult, tmp_path: Path) -> None:
    doc = report.document(result, {"trace": "wide-csv:x", "preset": "tiny", "strategy": "consolidate"})
    written = report.write(tmp_path, doc)
    assert {p.name for p in written} == {"report.json", "report.html", *(name for name, _ in report.PLOTS)}
    for name, _ in report.PLOTS:
        assert (tmp_path / name).read_bytes().startswith(b"\x89PNG"), name
    page = (tmp_path / "report.html").read_text()
    assert all(f'src="{name}"' in page for name, _ in report.PLOTS)
    assert json.loads((tmp_path / "report.json").read_text())["vms"] == 4
