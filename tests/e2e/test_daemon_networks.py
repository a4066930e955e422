"""`balancerd run` on the real lab drains a host whose guest needs a network one destination lacks (issue 20).

A private 3-host lab; guest ``net1`` on host1 is attached to ``site-h1``, a network only host1 has. The config
maps ``site-h1`` to ``site-h3`` on host3 (``[[network_map]]``), so host3 can take the guest and host2 cannot.
The running daemon's ``explain net1`` names host2's missing network and ``drain --check host1`` sends net1 to
host3; putting host1 into maintenance then drains it through host3 on the first try: the planner knows host2
lacks the network (a pre-flight fact in the snapshot), so the journal holds no attempt of ``net1`` towards
host2, and the guest ends running once, on host3, attached to ``site-h3``.
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import libvirt
import pytest

from balancerd import config as config_mod
from balancerd.journal import Journal
from balancerd.lab import extra, paths
from balancerd.model import Outcome
from tests.e2e.conftest import private_lab
from tests.e2e.libvirt_lab import wait_tick_beyond
from tests.e2e.test_daemon_drain import DRAIN_TIMEOUT_S, _placement, _wait_for

pytestmark = pytest.mark.e2e

BIN = Path(sys.executable).parent
BOOT_TIMEOUT_S = 180.0
NETWORK_MAP = '\n[[network_map]]\nsource = "site-h1"\ndest = "site-h3"\nhosts = ["host3"]\n'


@pytest.fixture(scope="module")
def net_lab() -> Iterator[dict[str, Any]]:
    with private_lab("lab-netdrain", hosts=3, vms=1) as status:
        yield status


def _config(lab: dict[str, Any], tmp_path: Path) -> Path:
    """The lab's config with the network map (its paths are absolute, so it may live elsewhere)."""
    path = tmp_path / "balancerd.toml"
    path.write_text(Path(lab["config"]).read_text() + NETWORK_MAP)
    return path


def _network_of(lab: dict[str, Any], host: str, guest: str) -> str:
    uri = next(h["uri"] for h in lab["hosts"] if h["name"] == host)
    conn = libvirt.open(uri)
    try:
        xml = conn.lookupByName(guest).XMLDesc(libvirt.VIR_DOMAIN_XML_INACTIVE)
    finally:
        conn.close()
    return xml.split("<source network='", 1)[1].split("'", 1)[0]


def test_a_drain_goes_through_the_host_that_has_the_network(net_lab: dict[str, Any], tmp_path: Path) -> None:
    lab_dir = Path(net_lab["dir"])
    console = extra.add_guest(paths.LabLayout(lab_dir), 1, "net1", network="site-h1")
    assert wait_tick_beyond(console, 0, BOOT_TIMEOUT_S) > 0, "net1 did not boot"
    config_path = _config(net_lab, tmp_path)
    config = config_mod.load(config_path)
    log = (tmp_path / "daemon.log").open("w")
    daemon = subprocess.Popen([str(BIN / "balancerd"), "run", "--config", str(config_path)], stdout=log,
                              stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    try:
        _wait_for(lambda: config.paths.status_file.exists() or daemon.poll() is not None, 60, "first cycle")
        assert daemon.poll() is None, (tmp_path / "daemon.log").read_text()
        check = subprocess.run([str(BIN / "balancerctl"), "--config", str(config_path), "drain", "--check", "host1",
                                "--json"], capture_output=True, text=True, timeout=30, stdin=subprocess.DEVNULL)
        assert check.returncode == 0, check.stdout + check.stderr
        assert [m["dest"] for m in json.loads(check.stdout)["moves"] if m["vm"] == "net1"] == ["host3"]
        why = subprocess.run([str(BIN / "balancerctl"), "--config", str(config_path), "explain", "net1", "--json"],
                             capture_output=True, text=True, timeout=30, stdin=subprocess.DEVNULL)
        assert why.returncode == 0, why.stderr
        assert any("host2 lacks network site-h1" in r for r in json.loads(why.stdout)["reasons"]), why.stdout
        ctl = subprocess.run([str(BIN / "balancerctl"), "--config", str(config_path), "drain", "host1"],
                             capture_output=True, text=True, timeout=30, stdin=subprocess.DEVNULL)
        assert ctl.returncode == 0, ctl.stderr
        _wait_for(lambda: _placement(lab_dir).get("net1") == [("host3", "running")], DRAIN_TIMEOUT_S,
                  "net1 to run on host3 only")
    finally:
        daemon.send_signal(signal.SIGTERM)
        code = daemon.wait(timeout=120)
        log.close()
    assert code == 0, (tmp_path / "daemon.log").read_text()
    journal = Journal(config.paths.journal)
    try:
        rows = [(e.dest, e.outcome) for e in journal.migrations() if e.vm == "net1"]
    finally:
        journal.close()
    assert rows == [("host3", Outcome.SUCCEEDED)], rows
    assert _network_of(net_lab, "host3", "net1") == "site-h3"
