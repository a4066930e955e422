"""The daemon with ``[ha]`` on a real etcd and the simulated backend: a follower plans but starts nothing, the
leader takes over (reconciling first) and submits, and without ``[ha]`` nothing of ``balancerd.ha`` is loaded."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from balancerd import config as config_mod
from balancerd.clock import FakeClock
from balancerd.config import Config
from balancerd.service.control import DaemonControl
from balancerd.service.daemon import Daemon
from tests import etcdserver
from tests.etcdserver import key_prefix
from tests.unit.service.test_daemon_live import ROOT, START, WAIT_S, _cluster


def _config(tmp_path: Path, url: str, name: str, prefix: str) -> Config:
    table: dict[str, object] = {
        "mode": "enforce", "interval_s": 60.0,
        "policy": {"max_moves_per_cycle": 10, "min_gain": 0.0, "cooldown_s": 0},
        "paths": {"maintenance_file": "maintenance", "journal": "journal.sqlite", "pid_file": "p.pid",
                  "status_file": "status.json"},
        "control": {"socket": "control.sock", "pause_file": "pause", "pause_state": "paused.json"},
        "metrics": {"enabled": False},
        "ha": {"etcd_endpoints": [url], "name": name, "prefix": prefix, "request_timeout_s": 1.0},
    }
    return config_mod.from_table(table, tmp_path)


@pytest.fixture
def daemon(etcd_server: etcdserver.EtcdServer, tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[Daemon]:
    clock = FakeClock(START)
    made = Daemon(_config(tmp_path, etcd_server.url, "a", key_prefix(request.node.name)), clock, _cluster(clock))
    made._load_pause()
    made.runner.prime()
    yield made
    made.stop_event.set()
    made.runner.backend.open()  # type: ignore[attr-defined]
    assert made.worker.join(WAIT_S)
    made.journal.close()


def test_a_follower_plans_but_submits_nothing_and_the_leader_submits_after_its_takeover(daemon: Daemon) -> None:
    assert daemon.heads is not None
    DaemonControl(daemon).maintenance("h1", True, ROOT)
    daemon._cycle()
    assert daemon.last_proposal is not None and daemon.last_proposal[0].plan.moves  # it planned the drain
    assert daemon.worker.current() is None  # but started nothing: it has not campaigned yet
    assert daemon.status_document()["ha"]["role"] == "follower"
    daemon.heads.leadership.step()
    assert daemon.hold_reason() == f"taking over term {daemon.heads.role().term}: reconciling with the hosts first"
    daemon._cycle()
    current = daemon.worker.current()
    assert current is not None and current.plan.moves
    assert daemon.heads.recorder.term_of(current.plan_id) == daemon.heads.role().term
    doc = daemon.status_document()["ha"]
    assert (doc["role"], doc["term"], doc["ready_term"], doc["name"]) == ("leader", doc["term"], doc["term"], "a")


def test_without_ha_the_daemon_loads_neither_balancerd_ha_nor_etcd3gw(tmp_path: Path) -> None:
    code = ("import sys; from pathlib import Path; from balancerd import config; "
            "from balancerd.service.daemon import Daemon; "
            f"d = Daemon(config.from_table({{'paths': {{'journal': 'j.sqlite', 'status_file': 's.json'}}}}, "
            f"Path({str(tmp_path)!r}))); "
            "print(sorted(m for m in sys.modules if m.startswith(('balancerd.ha.', 'etcd3gw')) "
            "or m in ('balancerd.ha', 'balancerd.service.heads'))); d.journal.close()")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=False)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"
