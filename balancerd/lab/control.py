"""Guest load control: each lab guest gets a small read-only raw "control disk" on the shared path whose
sector 0 says ``load=P mem=M``; the guest's /init re-reads it every second, burns P % of its vCPU and
holds M MiB in memory (see initramfs.CONTROL_SCRIPT).

Called by guests.py (create the disk at `up`), by `balancerd lab load` and by e2e tests that need a busy
guest. Read-only disks are neither copied by storage migration nor flagged unsafe (lab-notes §3).
"""

from __future__ import annotations

import os
from pathlib import Path

from balancerd.lab import paths
from balancerd.lab.errors import LabError

SECTOR = 512
DISK_BYTES = 1024 * 1024


def host_path(layout: paths.LabLayout, guest: str) -> Path:
    """The control disk as seen from the root namespace."""
    return layout.shared / "ctl" / f"{guest}.raw"


def guest_path(guest: str) -> Path:
    """The same file as every lab host's libvirtd sees it (used in the domain XML)."""
    return paths.SHARED_MOUNT / "ctl" / f"{guest}.raw"


def sector(load: int, mem_mib: int) -> bytes:
    """Sector 0: ``load=P mem=M`` padded with NULs; ValueError outside 0..100 % / negative MiB."""
    if not 0 <= load <= 100:
        raise ValueError(f"load must be 0..100 (% of one vCPU), not {load}")
    if mem_mib < 0:
        raise ValueError(f"mem must be >= 0 MiB, not {mem_mib}")
    return f"load={load} mem={mem_mib}\n".encode().ljust(SECTOR, b"\0")


def create(layout: paths.LabLayout, guest: str) -> Path:
    """A fresh idle control disk for ``guest``."""
    path = host_path(layout, guest)
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("wb") as disk:
        disk.write(sector(0, 0))
        disk.truncate(DISK_BYTES)
    return path


def set_load(layout: paths.LabLayout, guest: str, load: int, mem_mib: int = 0) -> None:
    """Tell ``guest`` to burn ``load`` % of its vCPU and hold ``mem_mib`` MiB (within a second or two)."""
    path = host_path(layout, guest)
    data = sector(load, mem_mib)
    try:
        fd = os.open(path, os.O_WRONLY)
    except OSError as exc:
        raise LabError(f"no control disk for guest {guest!r} ({path}): {exc.strerror}") from exc
    try:
        os.pwrite(fd, data, 0)
        os.fsync(fd)
    finally:
        os.close(fd)
