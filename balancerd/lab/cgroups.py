"""Per-host cgroup v1 subtrees (``cpu`` and ``cpuacct``), so each lab host's libvirtd can use cgroups
(getCPUStats, schedinfo) and two hosts never share a QEMU cgroup dir (lab-notes §5).

Called by lifecycle.py. On machines without cgroup v1 cpu/cpuacct the lab runs without (then libvirt
gets ``cgroup_controllers = []`` and domain getCPUStats is unavailable).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from balancerd.lab.hostconf import CgroupMount

WANTED = ("cpu", "cpuacct")


def parse_mounts(text: str) -> list[CgroupMount]:
    """The cgroup v1 hierarchies in ``/proc/self/mounts`` text that carry cpu or cpuacct."""
    found: dict[str, CgroupMount] = {}
    for line in text.splitlines():
        fields = line.split()
        if len(fields) < 4 or fields[2] != "cgroup":
            continue
        options = fields[3].split(",")
        controllers = [o for o in options if o in WANTED]
        if controllers and fields[1] not in found:
            found[fields[1]] = CgroupMount(Path(fields[1]), ",".join(controllers))
    return list(found.values())


def available() -> list[CgroupMount]:
    """The hierarchies to use, or [] unless both cpu and cpuacct are present and writable."""
    mounts = parse_mounts(Path("/proc/self/mounts").read_text())
    covered = {c for m in mounts for c in m.controllers.split(",")}
    if covered != set(WANTED) or not all(_writable(m.mountpoint) for m in mounts):
        return []
    return mounts


def _writable(path: Path) -> bool:
    return (path / "cgroup.procs").exists()


def controllers(mounts: Sequence[CgroupMount]) -> list[str]:
    """The controller names for qemu.conf's cgroup_controllers."""
    return [c for m in mounts for c in m.controllers.split(",")]


def create(mounts: Sequence[CgroupMount], name: str) -> list[Path]:
    """Create ``name`` in every hierarchy; return the created dirs."""
    made = []
    for mount in mounts:
        path = mount.mountpoint / name
        path.mkdir(exist_ok=True)
        made.append(path)
    return made


def remove(path: Path) -> list[str]:
    """Remove a cgroup subtree depth-first; return the dirs that could not be removed."""
    if not path.is_dir():
        return []
    failed: list[str] = []
    for child in path.iterdir():
        if child.is_dir():
            failed += remove(child)
    try:
        path.rmdir()
    except OSError as exc:
        failed.append(f"{path}: {exc.strerror}")
    return failed
