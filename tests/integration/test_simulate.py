"""End to end: `balancerd simulate` as a subprocess replays a tiny PlanetLab-format day with the preset's
host and VM types, in consolidation mode, and writes report.json and report.html with their plots."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

BIN = Path(sys.executable).parent
CONFIG = """
[policy]
strategy = "consolidate"
headroom_pct = 0
consolidate_target_pct = 100
cooldown_s = 3600
max_moves_per_cycle = 100
[throttle]
per_host_in = 4
per_host_out = 4
cluster_max = 64
migrations_per_hour = 100000
poll_interval_s = 2.0
[predict]
method = "ewma"
horizon_s = 300
"""


def _day(folder: Path, vms: int, steps: int) -> Path:
    folder.mkdir()
    for i in range(vms):
        values = [(7 * i + 3 * s) % 60 if s < steps // 2 else (5 * i) % 20 for s in range(steps)]
        (folder / f"vm{i:03d}").write_text("".join(f"{v}\n" for v in values))
    return folder


def test_simulate_writes_a_report_with_plots(tmp_path: Path) -> None:
    config = tmp_path / "sim.toml"
    config.write_text(CONFIG)
    day = _day(tmp_path / "20110303", vms=40, steps=24)
    out = tmp_path / "out"
    done = subprocess.run([str(BIN / "balancerd"), "simulate", "--trace", f"planetlab:{day}", "--config", str(config),
                           "--preset", "cloudsim-planetlab", "--out", str(out), "--journal"],
                          capture_output=True, text=True, timeout=300, stdin=subprocess.DEVNULL)
    assert done.returncode == 0, done.stderr
    assert "steps" not in done.stderr  # no progress bar without a TTY
    doc = json.loads((out / "report.json").read_text())
    assert doc["vms"] == 40 and doc["hosts"] == 800 and doc["simulated_seconds"] == 24 * 300
    assert doc["migrations"] > 0 and doc["ping_pong_moves"] == 0 and doc["energy_kwh"] > 0
    assert doc["reference"]["day"] == "20110303"
    page = (out / "report.html").read_text()
    for png in ("utilisation.png", "active_hosts.png", "migrations.png", "gib_moved.png", "forecast_error.png",
                "sla_violation.png"):
        assert (out / png).stat().st_size > 1000 and png in page
    assert (out / "journal.sqlite").exists()
