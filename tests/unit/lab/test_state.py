"""Unit tests of the lab state file."""

from __future__ import annotations

from pathlib import Path

import pytest

from balancerd.lab import state
from balancerd.lab.errors import LabError
from balancerd.lab.state import HostState, LabState


def _lab() -> LabState:
    host = HostState(index=1, name="host1", netns="bdlab-host1", cgroups=("/sys/fs/cgroup/cpu/bdlab-host1",),
                     pid=42)
    return LabState(dir="/lab", prefix="bdlab", switch_netns="bdlab-sw", hosts=(host,), virt="qemu",
                    guests=("vm1",), config="/lab/balancerd.toml", ready=True)


def test_json_round_trip() -> None:
    assert state.from_json(state.to_json(_lab())) == _lab()


def test_save_and_load(tmp_path: Path) -> None:
    path = tmp_path / "sub" / "state.json"
    assert state.load(path) is None
    state.save(path, _lab())
    assert state.load(path) == _lab()
    assert not list(path.parent.glob("*.tmp"))


def test_with_host_replaces_by_index_and_keeps_order() -> None:
    lab = _lab().with_host(HostState(index=3, name="host3", netns="n3"))
    lab = lab.with_host(HostState(index=2, name="host2", netns="n2"))
    lab = lab.with_host(HostState(index=1, name="host1", netns="bdlab-host1", pid=7))
    assert [(h.index, h.pid) for h in lab.hosts] == [(1, 7), (2, 0), (3, 0)]


@pytest.mark.parametrize("text", ["not json", "{}", '{"hosts": [{"bogus": 1}]}'])
def test_garbage_is_a_lab_error(text: str) -> None:
    with pytest.raises(LabError, match="unreadable lab state"):
        state.from_json(text)
