"""Tests of balancerd.simulate.cli: the sub-command's arguments and a tiny run that writes the report."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest

from balancerd.cli import build_parser, main
from balancerd.config import SimConfig, from_table
from balancerd.simulate.cli import simulate
from balancerd.simulate.preset import preset_from_config

CONFIG = """
[sim]
hosts = 3
host_cpu_m = 4000
host_mem_mib = 16384
[policy]
strategy = "consolidate"
headroom_pct = 0
[predict]
method = "ewma"
horizon_s = 300
"""


def test_simulate_is_a_balancerd_sub_command() -> None:
    args = build_parser().parse_args(["simulate", "--trace", "planetlab:x", "--config", "c.toml", "--out", "o",
                                      "--preset", "cloudsim-planetlab", "--days", "0.5", "--strategy", "balance"])
    assert (args.trace, args.preset, args.days, args.strategy) == ("planetlab:x", "cloudsim-planetlab", 0.5,
                                                                    "balance")


def test_a_tiny_run_prints_the_summary_and_writes_the_report(tmp_path: Path,
                                                             capsys: pytest.CaptureFixture[str]) -> None:
    config = tmp_path / "c.toml"
    config.write_text(CONFIG)
    trace = tmp_path / "t.csv"
    trace.write_text("step,a,b,c\n" + "".join(f"{i},{10 + i},20,5\n" for i in range(6)))
    code = main(["simulate", "--trace", f"wide-csv:{trace}", "--config", str(config), "--out", str(tmp_path / "o")])
    assert code == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["vms"] == 3 and summary["hosts"] == 3 and summary["simulated_seconds"] == 1800
    assert (tmp_path / "o" / "report.html").exists()


def test_a_bad_trace_exits_with_the_config_error_code(tmp_path: Path) -> None:
    config = tmp_path / "c.toml"
    config.write_text(CONFIG)
    assert main(["simulate", "--trace", "nope:x", "--config", str(config), "--out", str(tmp_path / "o")]) == 78


class _Tty(io.StringIO):
    def isatty(self) -> bool:
        return True


@pytest.mark.parametrize("tty", [True, False])
def test_progress_bar_only_on_a_tty(tmp_path: Path, tty: bool) -> None:
    trace = tmp_path / "t.csv"
    trace.write_text("step,a,b\n0,10,20\n1,30,20\n")
    stream = _Tty() if tty else io.StringIO()
    config = from_table({"predict": {"method": "ewma"}}, base=tmp_path)
    preset = preset_from_config(SimConfig(hosts=2, host_cpu_m=4000, host_mem_mib=16384), 1000)
    result, meta = simulate(config, preset, f"wide-csv:{trace}", tmp_path / "o", progress_to=stream)
    assert meta["trace"] == f"wide-csv:{trace}" and result.totals.vms == 2
    assert ("2/2 [" in stream.getvalue() and "step/s" in stream.getvalue()) is tty  # tqdm's bar


DESCRIBED = """
[[hosts]]
name = "h1"
cpus = 4
memory_mib = 16384
maintenance = true
[[hosts]]
name = "h2"
cpus = 4
memory_mib = 16384
[[vms]]
name = "a"
host = "h1"
vcpus = 1
memory_mib = 1024
[[vms]]
name = "b"
host = "h1"
vcpus = 2
memory_mib = 2048
"""


def test_a_run_on_a_described_cluster_replays_its_vms_and_drains_its_maintenance_host(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "cluster.toml").write_text(DESCRIBED)
    config = tmp_path / "c.toml"
    config.write_text('[sim]\ncluster = "cluster.toml"\n[predict]\nmethod = "ewma"\nhorizon_s = 300\n')
    trace = tmp_path / "t.csv"
    trace.write_text("step,x\n" + "".join(f"{i},{10 + i}\n" for i in range(4)))
    out = tmp_path / "o"
    assert main(["simulate", "--trace", f"wide-csv:{trace}", "--config", str(config), "--out", str(out)]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert (summary["vms"], summary["hosts"], summary["migrations"]) == (2, 2, 2)
    report = json.loads((out / "report.json").read_text())
    assert report["preset"] == f"described:{tmp_path / 'cluster.toml'}"
