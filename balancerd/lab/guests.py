"""Lab guests: choosing TCG or KVM, defining and starting ``vm1..vmK`` round-robin over the hosts, and
reading their serial consoles for ``TICK n boot=<id>`` lines.

Called by lifecycle.py during `up` and by the e2e fixture (``wait_ticking``). The guests are persistent
on their host; their consoles live in ``DIR/consoles``.
"""

from __future__ import annotations

import contextlib
import os
import re
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from balancerd.lab import connect, control, domain, paths
from balancerd.lab.assets import BootAssets
from balancerd.lab.errors import LabError

TICK_RE = re.compile(r"TICK (\d+) boot=([0-9a-f]+)")
PROBE_NAME = "bdlab-kvm-probe"
PROBE_TIMEOUT_S = 15.0


@dataclass(frozen=True, slots=True)
class Tick:
    """The last TICK line of a console."""

    count: int
    boot: str


def placement(guests: int, hosts: int) -> list[tuple[str, int]]:
    """(guest name, host index) round-robin: vm1 on host1, vm2 on host2, ..."""
    return [(f"vm{i}", (i - 1) % hosts + 1) for i in range(1, guests + 1)]


def _exists(path: str) -> bool:
    return os.path.exists(path)


def kvm_possible() -> bool:
    """/dev/kvm exists and is not kvm_pvm (on PVM, Linux guests never boot: lab-notes §3)."""
    return _exists("/dev/kvm") and not _exists("/sys/module/kvm_pvm")


def choose_virt(requested: str, host: paths.HostLayout, layout: paths.LabLayout, boot: BootAssets) -> str:
    """The libvirt domain type to use: ``qemu`` (TCG) or ``kvm`` (only if a probe guest ticks)."""
    if requested in ("qemu", "kvm"):
        if requested == "kvm" and not _exists("/dev/kvm"):
            raise LabError("--virt kvm requested but /dev/kvm does not exist")
        return requested
    if not kvm_possible():
        return "qemu"
    return "kvm" if probe_kvm(host, layout, boot) else "qemu"


def probe_kvm(host: paths.HostLayout, layout: paths.LabLayout, boot: BootAssets) -> bool:
    """Boot a transient KVM guest on ``host``; True if it prints a TICK within the timeout."""
    console = layout.console(PROBE_NAME)
    console.unlink(missing_ok=True)
    spec = domain.GuestSpec(PROBE_NAME, boot.kernel, boot.initrd, console, virt="kvm", network=None)
    with connect.connection(host.uri) as conn:
        try:
            dom = conn.createXML(domain.domain_xml(spec), 0)
        except connect.Error:
            return False
        try:
            return wait_tick(console, PROBE_TIMEOUT_S) is not None
        finally:
            with contextlib.suppress(connect.Error):
                dom.destroy()
            console.unlink(missing_ok=True)


def start_all(layout: paths.LabLayout, boot: BootAssets, virt: str, guests: int, hosts: int) -> list[str]:
    """Define (persistent) and start the guests; return their names."""
    layout.consoles.mkdir(parents=True, exist_ok=True)
    names = []
    for name, index in placement(guests, hosts):
        control.create(layout, name)
        spec = domain.GuestSpec(name, boot.kernel, boot.initrd, layout.console(name), virt=virt,
                                control_disk=control.guest_path(name))
        start_one(layout.host(index), spec)
        names.append(name)
    return names


def start_one(host: paths.HostLayout, spec: domain.GuestSpec) -> None:
    with connect.connection(host.uri) as conn:
        try:
            dom = conn.defineXML(domain.domain_xml(spec))
            dom.create()
        except connect.Error as exc:
            raise LabError(f"{host.name}: cannot start guest {spec.name}: {exc}") from exc


def last_tick(console: Path) -> Tick | None:
    """The last TICK in a console file, or None if there is none (yet)."""
    try:
        text = console.read_text(errors="replace")
    except OSError:
        return None
    found = TICK_RE.findall(text)
    return Tick(int(found[-1][0]), found[-1][1]) if found else None


def wait_tick(console: Path, timeout_s: float) -> Tick | None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        tick = last_tick(console)
        if tick is not None:
            return tick
        time.sleep(0.2)
    return None


def wait_ticking(consoles: Sequence[Path], timeout_s: float) -> dict[str, Tick]:
    """Wait until every console shows a TICK; LabError naming the silent ones on timeout."""
    deadline = time.monotonic() + timeout_s
    ticks: dict[str, Tick] = {}
    while time.monotonic() < deadline:
        for console in consoles:
            tick = last_tick(console)
            if tick is not None:
                ticks[str(console)] = tick
        if len(ticks) == len(consoles):
            return ticks
        time.sleep(0.2)
    silent = [str(c) for c in consoles if str(c) not in ticks]
    raise LabError(f"no TICK after {timeout_s:.0f} s on: {', '.join(silent)}")
