"""One libvirtd per lab host: its files, its start inside the host's namespaces, readiness, and the
networks, pools and QEMU capabilities it needs before guests can run.

Called by lifecycle.py during `up`. The daemon is started through ``hostconf.daemon_script`` in its own
session; the PID recorded is the one that ends up as ``tini`` (every step of the script execs).
"""

from __future__ import annotations

import subprocess
import time
from collections.abc import Sequence
from pathlib import Path

from balancerd.lab import assets, connect, hostconf, paths, procs
from balancerd.lab.errors import LabError

READY_TIMEOUT_S = 20.0
DAEMON_WORDS = ("tini", "libvirtd")


def prepare_files(host: paths.HostLayout, hosts: int, cgroups: Sequence[hostconf.CgroupMount]) -> None:
    """Create host N's dirs and config files; pre-seed its QEMU capabilities cache."""
    for key in paths.BIND_TARGETS:
        host.sub(key).mkdir(parents=True, exist_ok=True)
    (host.sub("lib") / "images").mkdir(exist_ok=True)
    (host.sub("lib") / "shared").mkdir(exist_ok=True)  # mount point for DIR/shared
    etc = host.sub("etc")
    (etc / "libvirtd.conf").write_text(hostconf.libvirtd_conf(host.index))
    controllers = [c for m in cgroups for c in m.controllers.split(",")]
    (etc / "qemu.conf").write_text(hostconf.qemu_conf(host.index, controllers))
    host.hosts_file.write_text(hostconf.hosts_file(hosts))
    assets.copy_tree_files(paths.capcache_dir(), host.capabilities_dir)


def start(layout: paths.LabLayout, host: paths.HostLayout, netns: str,
          cgroups: Sequence[hostconf.CgroupMount]) -> int:
    """Start host N's libvirtd in the background; return the PID (tini's, once the script has exec'ed)."""
    script = hostconf.daemon_script(host, layout.shared, cgroups, netns)
    with host.daemon_log.open("ab") as log:
        proc = subprocess.Popen(["/bin/sh", "-c", script], stdin=subprocess.DEVNULL, stdout=log,
                                stderr=subprocess.STDOUT, start_new_session=True, close_fds=True)
    return proc.pid


def wait_ready(host: paths.HostLayout, pid: int, timeout_s: float = READY_TIMEOUT_S) -> None:
    """Poll the daemon's unix socket until it answers with the right hostname; LabError on timeout."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if connect.try_hostname(host.uri) == host.name:
            return
        if not procs.alive(pid):
            raise LabError(f"libvirtd of {host.name} exited during start; see {host.daemon_log} and "
                           f"{host.sub('log') / 'libvirtd.log'}:\n{_tail(host.daemon_log)}")
        time.sleep(0.1)
    raise LabError(f"libvirtd of {host.name} not ready after {timeout_s:.0f} s; see {host.daemon_log}")


def _tail(path: Path, lines: int = 5) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return ""


def define_networks_and_pools(host: paths.HostLayout) -> None:
    """Networks ``prod`` and ``site-hN`` (bridged), dir pools ``local`` and ``shared``; all autostarted."""
    with connect.connection(host.uri) as conn:
        try:
            for name, bridge in hostconf.networks(host.index):
                net = conn.networkDefineXML(hostconf.bridge_network_xml(name, bridge))
                net.create()
                net.setAutostart(True)
            for name, target in hostconf.pools():
                pool = conn.storagePoolDefineXML(hostconf.dir_pool_xml(name, target))
                pool.create()
                pool.setAutostart(True)
        except connect.Error as exc:
            raise LabError(f"{host.name}: defining networks/pools failed: {exc}") from exc


def probe_capabilities(host: paths.HostLayout) -> None:
    """Make the daemon probe QEMU now (7-8 s cold; instant with a pre-seeded cache)."""
    with connect.connection(host.uri) as conn:
        try:
            conn.getCapabilities()
        except connect.Error as exc:
            raise LabError(f"{host.name}: QEMU capabilities probe failed: {exc}") from exc


def save_capabilities(host: paths.HostLayout) -> int:
    """Copy host N's capabilities cache to the machine-wide cache for later `up`s; return files copied."""
    return assets.copy_tree_files(host.capabilities_dir, paths.capcache_dir())
