"""e2e test of issue 19 on the real lab: a disk whose file name holds XML's special characters (``'&<"``) is
moved between pools on one host by the real libvirt backend, lands in the pool under exactly that name, and
the guest goes on writing to the moved file.

One private 1-host lab (``vm1`` from `lab up`, plus ``xml1`` added with ``balancerd.lab.extra`` with a raw
data disk the guest writes ``TICK n`` to every second).
"""

from __future__ import annotations

import time
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import libvirt
import pytest

from balancerd.backends.base import JobStats
from balancerd.lab import extra, paths

from .conftest import private_lab
from .libvirt_lab import backend_for, host_uri, last_tick, ticks, wait_tick_beyond

pytestmark = pytest.mark.e2e

BOOT_TIMEOUT_S = 180.0
MOVE_TIMEOUT_S = 120.0
VM = "xml1"
IMAGE = "x'&<\"1.img"


@pytest.fixture(scope="module")
def xml_lab() -> Iterator[dict[str, Any]]:
    with private_lab("lab-xml", hosts=1, vms=1) as status:
        yield status


def _disk_file(uri: str, vm: str, flags: int) -> str:
    """source/@file of ``vm``'s vda in its live (flags 0) or persistent XML."""
    conn = libvirt.open(uri)
    try:
        xml = conn.lookupByName(vm).XMLDesc(flags)
    finally:
        conn.close()
    for disk in ET.fromstring(xml).iterfind("devices/disk"):
        target, source = disk.find("target"), disk.find("source")
        if target is not None and target.get("dev") == "vda" and source is not None:
            return source.attrib["file"]
    raise AssertionError(f"{vm} has no vda with a source file")


def _move_disk(lab: dict[str, Any], vm: str, host: str, pool: str) -> JobStats:
    with backend_for(lab) as backend:
        backend.start_disk_move(vm, host, "vda", pool)
        deadline = time.monotonic() + MOVE_TIMEOUT_S
        stats = backend.job_stats(vm)
        while not stats.state.final and time.monotonic() < deadline:
            time.sleep(0.1)
            stats = backend.job_stats(vm)
    return stats


def test_a_disk_named_with_xml_specials_moves_between_pools(xml_lab: dict[str, Any]) -> None:
    layout = paths.LabLayout(Path(xml_lab["dir"]))
    uri = host_uri(xml_lab, "host1")
    console = extra.add_guest(layout, 1, VM, data_disk_mib=64, image=IMAGE)
    assert wait_tick_beyond(console, 0, BOOT_TIMEOUT_S) > 0, f"{VM} did not boot"
    assert _disk_file(uri, VM, 0) == str(extra.GUEST_IMAGES / IMAGE)
    before = wait_tick_beyond(console, last_tick(console))
    assert extra.data_tick(extra.image_path(layout, 1, VM, IMAGE)) > 0, "the guest does not write its disk"

    stats = _move_disk(xml_lab, VM, "host1", "shared")
    assert stats.state.value == "completed", stats.error

    moved = layout.shared / IMAGE
    assert moved.is_file(), f"no {IMAGE!r} in the shared pool: {sorted(p.name for p in layout.shared.iterdir())}"
    assert extra.data_tick(moved) >= before, "the moved file lacks the writes made before the move"
    pivot = last_tick(console)
    wait_tick_beyond(console, pivot + 2)
    assert extra.data_tick(moved) > pivot, "the guest does not write to the moved file"
    target = str(paths.SHARED_MOUNT / IMAGE)
    assert _disk_file(uri, VM, 0) == target
    assert _disk_file(uri, VM, libvirt.VIR_DOMAIN_XML_INACTIVE) == target  # the definition follows the pivot
    assert len({boot for _n, boot in ticks(console)}) == 1
