"""Unit tests of cgroup v1 mount detection and subtree removal."""

from __future__ import annotations

from pathlib import Path

from balancerd.lab import cgroups
from balancerd.lab.hostconf import CgroupMount

SEPARATE = """tmpfs /sys/fs/cgroup tmpfs rw,relatime,mode=755 0 0
cgroup /sys/fs/cgroup/cpu cgroup rw,relatime,cpu 0 0
cgroup /sys/fs/cgroup/cpuacct cgroup rw,relatime,cpuacct 0 0
cgroup /sys/fs/cgroup/memory cgroup rw,relatime,memory 0 0
cgroup2 /sys/fs/cgroup/unified cgroup2 rw,relatime 0 0
"""
COMOUNTED = "cgroup /sys/fs/cgroup/cpu,cpuacct cgroup rw,nosuid,cpu,cpuacct 0 0\n"
V2_ONLY = "cgroup2 /sys/fs/cgroup cgroup2 rw,nosuid,nodev,noexec,relatime 0 0\n"


def test_separate_hierarchies() -> None:
    assert cgroups.parse_mounts(SEPARATE) == [CgroupMount(Path("/sys/fs/cgroup/cpu"), "cpu"),
                                              CgroupMount(Path("/sys/fs/cgroup/cpuacct"), "cpuacct")]


def test_comounted_hierarchy() -> None:
    (mount,) = cgroups.parse_mounts(COMOUNTED)
    assert mount.controllers == "cpu,cpuacct" and mount.inner_name == "cpu,cpuacct"
    assert cgroups.controllers([mount]) == ["cpu", "cpuacct"]


def test_cgroup_v2_only_has_nothing() -> None:
    assert cgroups.parse_mounts(V2_ONLY) == []


def test_remove_is_depth_first(tmp_path: Path) -> None:
    (tmp_path / "lab" / "machine" / "qemu-1").mkdir(parents=True)
    assert cgroups.remove(tmp_path / "lab") == []
    assert not (tmp_path / "lab").exists()
    assert cgroups.remove(tmp_path / "absent") == []
