"""`lab status`: what the state file records plus what the hosts' libvirtds report now.

Called by cli.py; the e2e fixture parses ``status --json``. The dict shape is the lab's public contract:
``{"dir", "config", "virt", "ready", "prefix", "switch_netns", "consoles", "hosts": [{"name", "index",
"uri", "p2p_uri", "migration_uri", "mgmt_ip", "mig_ip", "host_uuid", "netns", "pid", "libvirtd_pid", "alive",
"guests": [{"name", "state", "console"}]}], "guests": [names]}``. ``pid`` is the host's tini wrapper,
``libvirtd_pid`` the libvirt daemon itself (what a test stops with SIGSTOP to make a host hang), or null.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from balancerd.lab import connect, paths, procs
from balancerd.lab.errors import LabError
from balancerd.lab.state import HostState, LabState


def collect(layout: paths.LabLayout, lab: LabState) -> dict[str, Any]:
    """The status dict of a recorded lab (queries every live host's libvirtd)."""
    return {
        "dir": lab.dir,
        "config": lab.config,
        "virt": lab.virt,
        "ready": lab.ready,
        "prefix": lab.prefix,
        "switch_netns": lab.switch_netns,
        "consoles": str(layout.consoles),
        "hosts": [_host(layout, h) for h in lab.hosts],
        "guests": list(lab.guests),
    }


def _host(layout: paths.LabLayout, host: HostState) -> dict[str, Any]:
    files = layout.host(host.index)
    alive = bool(host.pid) and procs.matches(host.pid, ("tini", "libvirtd"))
    entry: dict[str, Any] = {
        "name": host.name,
        "index": host.index,
        "uri": files.uri,
        "p2p_uri": paths.p2p_uri(host.index),
        "migration_uri": paths.migration_uri(host.index),
        "mgmt_ip": paths.mgmt_ip(host.index),
        "mig_ip": paths.mig_ip(host.index),
        "host_uuid": paths.host_uuid(host.index),
        "netns": host.netns,
        "pid": host.pid,
        "libvirtd_pid": libvirtd_pid(files, host.pid) if alive else None,
        "alive": alive,
        "guests": [],
    }
    if alive:
        try:
            entry["guests"] = _guests(layout, files)
        except LabError as exc:
            entry["error"] = str(exc)
    return entry


def libvirtd_pid(files: paths.HostLayout, wrapper: int) -> int | None:
    """The host's libvirtd: from its pid file, else the wrapper's child that is libvirtd; checked by cmdline."""
    recorded = procs.read_pidfile(files.sub("run") / "libvirtd.pid")
    if recorded and procs.matches(recorded, ("libvirtd",)):
        return recorded
    try:
        children = Path(f"/proc/{wrapper}/task/{wrapper}/children").read_text().split()
    except OSError:
        return None
    return next((int(c) for c in children if procs.matches(int(c), ("libvirtd",))), None)


def _guests(layout: paths.LabLayout, host: paths.HostLayout) -> list[dict[str, Any]]:
    with connect.connection(host.uri) as conn:
        try:
            domains = conn.listAllDomains(0)
            listed = [(d.name(), d.state()[0]) for d in domains]
        except connect.Error as exc:
            raise LabError(f"{host.name}: cannot list domains: {exc}") from exc
    return [{"name": name, "state": connect.STATE_NAMES.get(code, str(code)),
             "console": str(layout.console(name))} for name, code in sorted(listed)]


def render(status: dict[str, Any]) -> str:
    """A human-readable summary."""
    lines = [f"lab in {status['dir']} ({status['virt'] or 'starting'}); config {status['config'] or '-'}"]
    for host in status["hosts"]:
        state = "alive" if host["alive"] else "DEAD"
        lines.append(f"  {host['name']:<7} pid {host['pid']:<7} {state:<5} {host['uri']}")
        lines.append(f"          p2p {host['p2p_uri']}  migration {host['migration_uri']}")
        for guest in host["guests"]:
            lines.append(f"          {guest['name']:<10} {guest['state']:<9} {guest['console']}")
        if "error" in host:
            lines.append(f"          error: {host['error']}")
    return "\n".join(lines)
