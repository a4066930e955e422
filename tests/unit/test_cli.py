"""balancerd CLI: bad configs exit 78 with one message naming the key; plan text and JSON forms, marked offline."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from balancerd import cli
from balancerd.model import Move, MoveKind, Plan, Skip


@pytest.mark.parametrize(
    ("content", "needle"),
    [
        ("interval_s = -1\n", "'interval_s'"),
        ("[throttle]\ncluster_max = 'many'\n", "'throttle.cluster_max'"),
        ("[metrics]\nport = 70000\n", "'metrics.port'"),
        ("[unknown]\n", "'unknown'"),
        ("= broken", "valid UTF-8 TOML"),
    ],
)
def test_run_with_bad_config_exits_78(tmp_path: Path, content: str, needle: str) -> None:
    path = tmp_path / "bad.toml"
    path.write_text(content)
    proc = subprocess.run([sys.executable, "-m", "balancerd.cli", "run", "--config", str(path)],
                          capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL)
    assert proc.returncode == 78
    assert needle in proc.stderr
    assert proc.stderr.count("\n") == 1
    assert proc.stdout == ""


def test_missing_config_exits_78(tmp_path: Path) -> None:
    assert cli.main(["plan", "--config", str(tmp_path / "absent.toml")]) == 78


def _plan() -> Plan:
    move = Move("vm1", "h1", "h2", MoveKind.LIVE, "balance: h1 hot", 0.05, 2048)
    return Plan(7, 1.0, (move,), -0.3, -0.25, skipped=(Skip("vm9", ("no room", "pinned")),))


def test_plan_document() -> None:
    doc = cli.plan_document(_plan(), ["host3 is unreachable"])
    assert doc["moves"] == [{"vm": "vm1", "source": "h1", "dest": "h2", "kind": "live", "reason": "balance: h1 hot",
                             "gain": 0.05, "memory_mib": 2048}]
    assert doc["skipped"] == [{"vm": "vm9", "reasons": ["no room", "pinned"]}]
    assert doc["score_before"] == -0.3 and doc["collection_errors"] == ["host3 is unreachable"]


def test_plan_text() -> None:
    text = cli.plan_text(_plan())
    assert "1 moves, score -0.3000 -> -0.2500" in text
    assert "vm1: h1 -> h2 [live, 2048 MiB, gain +0.0500] balance: h1 hot" in text
    assert "skipped vm9: no room; pinned" in text


SIM_CONFIG = """
backend = "sim"
interval_s = 60.0
[sim]
hosts = 3
vms = 9
speed = 1000.0
[paths]
maintenance_file = "{tmp}/maintenance"
journal = "{tmp}/journal.sqlite"
pid_file = "{tmp}/balancerd.pid"
status_file = "{tmp}/status.json"
"""

OFFLINE_LINE = ("offline plan: a fresh collection, no trained model, no in-flight moves "
                "(balancerctl plan asks the running daemon)")


@pytest.fixture()
def sim_config(tmp_path: Path) -> Path:
    path = tmp_path / "balancerd.toml"
    path.write_text(SIM_CONFIG.format(tmp=tmp_path))
    return path


@pytest.mark.parametrize("extra", [[], ["--explain", "vm0001"]])
def test_plan_text_says_first_that_it_is_offline(sim_config: Path, extra: list[str],
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["plan", "--config", str(sim_config), *extra]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == OFFLINE_LINE
    assert lines[1].startswith("vm0001:" if extra else "plan on snapshot 2 ")


@pytest.mark.parametrize(("extra", "key"), [([], "moves"), (["--explain", "vm0001"], "reasons")])
def test_plan_json_is_marked_offline_and_stays_valid(sim_config: Path, extra: list[str], key: str,
                                                     capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["plan", "--config", str(sim_config), "--json", *extra]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert list(doc)[:2] == ["offline", "note"] and doc["offline"] is True
    assert f"offline plan: {doc['note']}" == OFFLINE_LINE
    assert key in doc


WHAT_IF = """
[[hosts]]
name = "h1"
cpus = 16
memory_mib = 65536
networks = ["prod", "backup"]
maintenance = true
[[hosts]]
name = "h2"
cpus = 16
memory_mib = 65536
networks = ["prod", "backup"]
[[hosts]]
name = "h3"
cpus = 32
memory_mib = 131072
networks = ["backup"]
[[hosts]]
name = "h4"
cpus = 16
memory_mib = 65536
networks = ["prod"]
[[vms]]
name = "web1"
host = "h1"
vcpus = 2
memory_mib = 4096
cpu_pct = 50
networks = ["prod"]
[[vms]]
name = "web2"
host = "h1"
vcpus = 2
memory_mib = 4096
cpu_pct = 50
networks = ["prod"]
[[vms]]
name = "bk1"
host = "h1"
vcpus = 1
memory_mib = 2048
networks = ["backup"]
[[vms]]
name = "db1"
host = "h2"
vcpus = 4
memory_mib = 8192
cpu_pct = 30
networks = ["prod"]
[[rules]]
kind = "anti_affinity"
vms = ["web*"]
"""

NETWORKS = {"h1": {"prod", "backup"}, "h2": {"prod", "backup"}, "h3": {"backup"}, "h4": {"prod"}}


def test_plan_json_on_a_described_cluster_drains_its_maintenance_host(tmp_path: Path,
                                                                        capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "what-if.toml").write_text(WHAT_IF)
    path = tmp_path / "balancerd.toml"
    path.write_text(SIM_CONFIG.format(tmp=tmp_path).replace("hosts = 3\nvms = 9\n", 'cluster = "what-if.toml"\n'))
    assert cli.main(["plan", "--config", str(path), "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    moves = {m["vm"]: m for m in doc["moves"]}
    assert set(moves) == {"web1", "web2", "bk1"} and {m["source"] for m in moves.values()} == {"h1"}
    assert all(m["reason"].startswith("drain: host h1 in maintenance") for m in moves.values())
    vm_networks = {"web1": {"prod"}, "web2": {"prod"}, "bk1": {"backup"}}
    assert all(vm_networks[vm] <= NETWORKS[m["dest"]] for vm, m in moves.items())  # never to h3 for prod
    assert moves["web1"]["dest"] != moves["web2"]["dest"]  # the file's anti-affinity rule
    assert doc["skipped"] == [] and doc["collection_errors"] == []


def test_the_shipped_what_if_example_drains_kvm01_and_keeps_the_databases_apart(
        capsys: pytest.CaptureFixture[str]) -> None:
    shipped = Path(__file__).resolve().parents[2] / "config" / "what-if-demo.toml"
    assert cli.main(["plan", "--config", str(shipped), "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    moves = {m["vm"]: m["dest"] for m in doc["moves"]}
    assert set(moves) == {"web1", "db1", "app1", "batch1"} and doc["skipped"] == []
    assert moves["db1"] != "kvm02"  # db2 runs there: the file's anti-affinity rule
    assert moves["batch1"] != "kvm03" and moves["web1"] != "kvm04"  # networks: backup / prod only
