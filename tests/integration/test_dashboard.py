"""The Grafana dashboard against a real Prometheus scraping a running daemon on the simulated cluster.

Starts Debian's `prometheus` on 127.0.0.1 (free port, temporary storage, 1 s scrapes) and `balancerd run` on
a small simulated cluster, drains a host with `balancerctl drain HOST --wait --json` while Prometheus
scrapes, then evaluates every panel's PromQL (Grafana's ``$__rate_interval`` and ``$host`` substituted)
through /api/v1/query and requires a finite value for each. `promtool check metrics` on a scrape is clean.
Both processes are started and stopped here, by PID. Nothing but 127.0.0.1 is contacted.
"""

from __future__ import annotations

import json
import math
import os
import shutil
import socket
import subprocess
import sys
import urllib.parse
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.integration.processes import sim_daemon_config, stop, wait_for

DASHBOARD = Path(__file__).resolve().parents[2] / "dashboards" / "balancerd.json"
BIN = Path(sys.executable).parent
RATE_WINDOW = "5m"


PROMETHEUS_YML = """
global:
  scrape_interval: 1s
  evaluation_interval: 1s
scrape_configs:
  - job_name: balancerd
    static_configs:
      - targets: ["127.0.0.1:{port}"]
"""


@dataclass(frozen=True)
class Stack:
    prometheus: str
    metrics_url: str
    drain: subprocess.CompletedProcess[str]


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _tool(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        if os.environ.get("BALANCERD_E2E_REQUIRED") == "1":
            pytest.fail(f"{name} is missing: scripts/test installs Debian's prometheus package")
        pytest.skip(f"{name} is not installed (Debian package prometheus)")
    return path


def _get(url: str) -> str:
    with urllib.request.urlopen(url, timeout=5) as response:
        return str(response.read().decode())


def query(base: str, expr: str) -> list[dict[str, Any]]:
    """Instant query; the result vector."""
    url = f"{base}/api/v1/query?" + urllib.parse.urlencode({"query": expr})
    body = json.loads(_get(url))
    assert body["status"] == "success", body
    result: list[dict[str, Any]] = body["data"]["result"]
    return result


def _finite(result: list[dict[str, Any]]) -> bool:
    return any(math.isfinite(float(sample["value"][1])) for sample in result)


def panel_queries() -> list[tuple[str, str]]:
    """(panel title, PromQL with Grafana's variables filled in) for every target of every panel."""
    dashboard = json.loads(DASHBOARD.read_text())
    out = []
    for panel in dashboard["panels"]:
        for target in panel.get("targets", []):
            expr = target["expr"].replace("$__rate_interval", RATE_WINDOW).replace("$host", ".*")
            out.append((panel["title"], expr))
    return out


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    prometheus_bin = _tool("prometheus")
    root = tmp_path_factory.mktemp("dashboard")
    metrics_port, web_port = _free_port(), _free_port()
    (root / "prometheus.yml").write_text(PROMETHEUS_YML.format(port=metrics_port))
    config = root / "balancerd.toml"
    metrics = f'address = "127.0.0.1"\nport = {metrics_port}'
    config.write_text(sim_daemon_config(speed=120.0, max_moves=4, metrics=metrics))
    base = f"http://127.0.0.1:{web_port}"
    prom_log = (root / "prometheus.log").open("w")
    prom = subprocess.Popen([prometheus_bin, f"--config.file={root / 'prometheus.yml'}",
                             f"--storage.tsdb.path={root / 'tsdb'}", f"--web.listen-address=127.0.0.1:{web_port}",
                             "--log.level=warn"], stdout=prom_log, stderr=subprocess.STDOUT,
                            stdin=subprocess.DEVNULL, cwd=root)
    daemon_log = (root / "daemon.log").open("w")
    daemon: subprocess.Popen[Any] | None = None
    try:
        wait_for(lambda: prom.poll() is not None or "Ready" in _get(f"{base}/-/ready"), 30, "prometheus ready")
        assert prom.poll() is None, (root / "prometheus.log").read_text()
        daemon = subprocess.Popen([str(BIN / "balancerd"), "run", "--config", str(config)], stdout=daemon_log,
                                  stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, cwd=root)
        wait_for(lambda: daemon.poll() is not None or bool(query(base, 'count_over_time(up{job="balancerd"}[1m]) >= 3'
                                                             ' and up{job="balancerd"} == 1')),
              45, "three scrapes of the daemon")
        assert daemon.poll() is None, (root / "daemon.log").read_text()
        yield Stack(base, f"http://127.0.0.1:{metrics_port}/metrics", _drain(config, "host02"))
    finally:
        if daemon is not None:
            stop(daemon)
        stop(prom)
        daemon_log.close()
        prom_log.close()


def test_dashboard_is_well_formed() -> None:
    dashboard = json.loads(DASHBOARD.read_text())
    ids = [p["id"] for p in dashboard["panels"]]
    assert len(ids) == len(set(ids))
    for panel in dashboard["panels"]:
        assert {"h", "w", "x", "y"} <= set(panel["gridPos"]), panel["title"]
        if panel["type"] != "row":
            assert panel["targets"] and panel["datasource"]["uid"] == "${DS_PROMETHEUS}", panel["title"]
    titles = " | ".join(p["title"].lower() for p in dashboard["panels"])
    for topic in ("imbalance", "forecast vs actual", "forecast error", "cpu utilisation", "memory utilisation",
                  "migrations by kind and outcome", "duration", "downtime", "drain", "plan", "cycle time"):
        assert topic in titles, topic


def _drain(config: Path, host: str) -> subprocess.CompletedProcess[str]:
    """`balancerctl drain HOST --wait --json` while Prometheus scrapes: the migrations the panels show."""
    return subprocess.run([str(BIN / "balancerctl"), "--config", str(config), "drain", host, "--wait", "--json",
                           "--stall-timeout", "60"], capture_output=True, text=True, timeout=90,
                          stdin=subprocess.DEVNULL)


def test_drain_wait_empties_a_host(stack: Stack) -> None:
    proc = stack.drain
    assert proc.returncode == 0, proc.stdout + proc.stderr
    events = [json.loads(line) for line in proc.stdout.splitlines()]
    assert events[0] == {"event": "maintenance", "host": "host02", "changed": True,
                         "forced": False}
    assert any(e["event"] == "progress" and e["vms_left"] > 0 for e in events), events
    assert events[-1]["event"] == "drained" and events[-1]["exit_code"] == 0


def test_every_panel_has_data(stack: Stack) -> None:
    queries = panel_queries()
    assert len(queries) >= 12
    missing: list[str] = []

    def all_have_data() -> bool:
        missing[:] = [f"{title}: {expr}" for title, expr in queries if not _finite(query(stack.prometheus, expr))]
        return not missing

    try:
        wait_for(all_have_data, 30, "data for every panel")
    except AssertionError as exc:
        raise AssertionError("panels without data:\n" + "\n".join(missing)) from exc
    assert query(stack.prometheus, "balancerd_host_reachable"), "the $host variable's label_values query"


def test_promtool_check_metrics_is_clean(stack: Stack) -> None:
    promtool = _tool("promtool")
    scrape = _get(stack.metrics_url)
    assert "balancerd_migrations_total" in scrape
    proc = subprocess.run([promtool, "check", "metrics"], input=scrape, capture_output=True, text=True, timeout=30)
    assert proc.returncode == 0 and not (proc.stdout + proc.stderr).strip(), proc.stdout + proc.stderr
