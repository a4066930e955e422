"""e2e tests of `balancerd lab`: a real 3-host libvirt + QEMU lab (the shared ``lab`` fixture) and a
separate 2-host lab that checks `down` removes every process, namespace, cgroup and file it made."""

from __future__ import annotations

import json
import re
import time
from pathlib import Path
from typing import Any

import libvirt
import pytest

from balancerd import config
from balancerd.lab import control, guests, paths, procs
from balancerd.lab.state import from_json

from .conftest import E2E_DIR, lab_cli, require_lab, start_lab

pytestmark = pytest.mark.e2e

libvirt.registerErrorHandler(lambda _ctx, _err: None, None)


def _host_uuid(conn: Any) -> str:
    found = re.search(r"<host>\s*<uuid>([^<]+)</uuid>", conn.getCapabilities())
    assert found, "no host uuid in capabilities"
    return found.group(1)


def test_hosts_are_up_with_distinct_hostnames_and_uuids(lab: dict[str, Any]) -> None:
    names, uuids = [], []
    for host in lab["hosts"]:
        assert host["alive"], host
        conn = libvirt.open(host["uri"])
        try:
            names.append(conn.getHostname())
            uuids.append(_host_uuid(conn))
        finally:
            conn.close()
    assert names == ["host1", "host2", "host3"]
    assert len(set(uuids)) == 3


def test_every_host_has_networks_and_pools(lab: dict[str, Any]) -> None:
    for host in lab["hosts"]:
        conn = libvirt.open(host["uri"])
        try:
            nets = {n.name() for n in conn.listAllNetworks() if n.isActive()}
            pools = {p.name() for p in conn.listAllStoragePools() if p.isActive()}
        finally:
            conn.close()
        assert nets == {"prod", f"site-h{host['index']}"}
        assert pools == {"local", "shared"}


def test_guests_run_round_robin_and_tick(lab: dict[str, Any]) -> None:
    placed = {g["name"]: h["name"] for h in lab["hosts"] for g in h["guests"]}
    assert placed == {"vm1": "host1", "vm2": "host2", "vm3": "host3"}
    for host in lab["hosts"]:
        for guest in host["guests"]:
            assert guest["state"] == "running"
            assert guests.last_tick(Path(guest["console"])) is not None


def test_console_shows_a_rising_counter(lab: dict[str, Any]) -> None:
    console = Path(lab["consoles"]) / "vm1.log"
    first = guests.last_tick(console)
    assert first is not None
    deadline = time.monotonic() + 20
    later = first
    while later.count <= first.count and time.monotonic() < deadline:
        time.sleep(0.5)
        later = guests.last_tick(console) or first
    assert later.count > first.count
    assert later.boot == first.boot


def test_status_has_uris_for_balancerd_and_p2p(lab: dict[str, Any]) -> None:
    host2 = lab["hosts"][1]
    assert host2["p2p_uri"] == "qemu+tcp://10.77.0.2/system"
    assert host2["migration_uri"] == "tcp://10.77.1.2"
    assert host2["uri"].startswith("qemu+unix:///system?socket=")
    assert lab["virt"] in ("qemu", "kvm")


def test_generated_config_validates_and_matches_status(lab: dict[str, Any]) -> None:
    loaded = config.load(Path(lab["config"]))
    assert loaded.backend == "libvirt" and loaded.mode == "enforce"
    assert [(h.name, h.uri, h.migration_uri) for h in loaded.hosts] == [
        (h["name"], h["uri"], h["migration_uri"]) for h in lab["hosts"]]
    assert loaded.throttle.allow_unsafe
    assert str(loaded.paths.journal).startswith(lab["dir"])


def test_second_up_in_the_same_dir_is_refused(lab: dict[str, Any]) -> None:
    result = lab_cli("up", "--hosts", "1", "--vms", "0", "--dir", lab["dir"])
    assert result.returncode == 1
    assert "already up" in result.stderr


def test_status_and_down_without_a_lab(tmp_path: Path) -> None:
    status = lab_cli("status", "--dir", str(tmp_path))
    down = lab_cli("down", "--dir", str(tmp_path))
    assert status.returncode == 1 and "no lab" in status.stderr
    assert down.returncode == 0 and "nothing to do" in down.stderr


def _started_pids(lab_dir: Path, status: dict[str, Any]) -> list[int]:
    pids = [h["pid"] for h in status["hosts"]]
    for host in status["hosts"]:
        run = lab_dir / host["name"] / "run"
        pids += [procs.read_pidfile(p) or 0 for p in [run / "libvirtd.pid", *(run / "qemu").glob("vm*.pid")]]
    return pids


def test_down_removes_every_process_namespace_cgroup_and_file() -> None:
    require_lab()
    lab_dir = E2E_DIR.with_name("lab-down")
    status = start_lab(lab_dir, hosts=2, vms=1)
    recorded = from_json((lab_dir / "state.json").read_text())
    pids = _started_pids(lab_dir, status)
    assert len(pids) == 5 and all(procs.alive(p) for p in pids)  # 2 tini, 2 libvirtd, 1 qemu
    namespaces = [h.netns for h in recorded.hosts] + [recorded.switch_netns]
    cgroup_dirs = [Path(c) for h in recorded.hosts for c in h.cgroups]

    result = lab_cli("down", "--dir", str(lab_dir))

    assert result.returncode == 0, result.stderr
    assert procs.wait_gone(pids, 10.0) == []
    listed = procs.run(["ip", "netns", "list"]).stdout
    assert not [n for n in namespaces if re.search(rf"^{re.escape(n)}\b", listed, re.MULTILINE)]
    assert not [c for c in cgroup_dirs if c.exists()]
    assert not [p for p in ("host1", "host2", "consoles", "state.json") if (lab_dir / p).exists()]
    assert (lab_dir / "shared" / "boot" / "vmlinuz").is_file()


def test_status_json_is_the_documented_shape(lab: dict[str, Any]) -> None:
    result = lab_cli("status", "--json", "--dir", lab["dir"])
    parsed = json.loads(result.stdout)
    assert {"dir", "config", "virt", "hosts", "guests", "consoles"} <= parsed.keys()
    assert {"name", "uri", "p2p_uri", "migration_uri", "pid", "alive", "guests"} <= parsed["hosts"][0].keys()


def _cpu_share(dom: Any, seconds: float = 3.0) -> float:
    """Fraction of one core the guest used over ``seconds``."""
    before = dom.info()[4]
    time.sleep(seconds)
    return float(dom.info()[4] - before) / 1e9 / seconds


def test_control_disk_makes_a_guest_busy_and_idle_again(lab: dict[str, Any]) -> None:
    layout = paths.LabLayout(Path(lab["dir"]))
    conn = libvirt.open(lab["hosts"][2]["uri"])
    try:
        dom = conn.lookupByName("vm3")
        idle = _cpu_share(dom)
        control.set_load(layout, "vm3", 100)
        time.sleep(2)
        busy = _cpu_share(dom)
        control.set_load(layout, "vm3", 0)
        time.sleep(2)
        calm = _cpu_share(dom)
    finally:
        control.set_load(layout, "vm3", 0)
        conn.close()
    assert busy > 0.3 and busy > 3 * idle, (idle, busy)
    assert calm < busy / 2, (busy, calm)
