"""Unit tests of the guest control disk (load generator input)."""

from __future__ import annotations

from pathlib import Path

import pytest

from balancerd.lab import control, paths
from balancerd.lab.errors import LabError


def test_sector_holds_the_settings_padded_to_512_bytes() -> None:
    data = control.sector(50, 32)
    assert len(data) == control.SECTOR
    assert data.rstrip(b"\0") == b"load=50 mem=32\n"


@pytest.mark.parametrize(("load", "mem"), [(-1, 0), (101, 0), (0, -5)])
def test_out_of_range_settings_are_refused(load: int, mem: int) -> None:
    with pytest.raises(ValueError, match="must be"):
        control.sector(load, mem)


def test_create_then_set_load_rewrites_sector_zero(tmp_path: Path) -> None:
    layout = paths.LabLayout(tmp_path)
    disk = control.create(layout, "vm1")
    assert disk.stat().st_size == control.DISK_BYTES
    assert disk.read_bytes()[:13] == b"load=0 mem=0\n"
    control.set_load(layout, "vm1", 100, 8)
    content = disk.read_bytes()
    assert content[:control.SECTOR].rstrip(b"\0") == b"load=100 mem=8\n"
    assert len(content) == control.DISK_BYTES


def test_set_load_of_an_unknown_guest_is_a_lab_error(tmp_path: Path) -> None:
    with pytest.raises(LabError, match="no control disk"):
        control.set_load(paths.LabLayout(tmp_path), "nope", 10)


def test_guest_path_is_on_the_shared_mount() -> None:
    assert control.guest_path("vm2") == Path("/var/lib/libvirt/shared/ctl/vm2.raw")
