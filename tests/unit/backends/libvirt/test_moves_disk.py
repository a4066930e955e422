"""Unit tests of moving a disk between pools on one host (``moves.disk_move``, issue 19): the blockCopy XML is
built with an XML library whatever the file name holds, and a source path that could put the copy outside the
pool directory is refused."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from typing import Any

import pytest

from balancerd.backends.base import JobState
from balancerd.backends.libvirt import moves
from balancerd.clock import FakeClock
from balancerd.errors import PermanentBackendError

IMAGES = "/var/lib/libvirt/images"
POOL = "/var/lib/libvirt/shared"
NASTY = "a'&<\">b.qcow2"


def _domain_xml(path: str, fmt: str = "qcow2") -> str:
    root = ET.Element("domain", type="qemu")
    ET.SubElement(root, "name").text = "vm"
    disk = ET.SubElement(ET.SubElement(root, "devices"), "disk", type="file", device="disk")
    ET.SubElement(disk, "driver", name="qemu", type=fmt)
    ET.SubElement(disk, "source", file=path)
    ET.SubElement(disk, "target", dev="vda", bus="virtio")
    return ET.tostring(root, encoding="unicode")


class Dom:
    """A domain whose block copy is mirrored at once; records what blockCopy was given."""

    def __init__(self, path: str, fmt: str = "qcow2") -> None:
        self.xml = _domain_xml(path, fmt)
        self.copies: list[tuple[str, str, int]] = []
        self.aborts: list[tuple[str, int]] = []

    def XMLDesc(self, flags: int) -> str:
        return self.xml

    def blockCopy(self, disk: str, spec: str, params: dict[str, Any], flags: int) -> None:
        self.copies.append((disk, spec, flags))

    def blockJobInfo(self, disk: str, flags: int) -> dict[str, int]:
        return {"cur": 1 << 20, "end": 1 << 20}

    def blockJobAbort(self, disk: str, flags: int) -> None:
        self.aborts.append((disk, flags))


def _call(host: str, where: str, fn: Any) -> Any:
    return fn()


def _move(dom: Dom, pool: str = POOL) -> Any:
    return moves.disk_move(_call, "host1", "vm", dom, "vda", pool, FakeClock())


@pytest.mark.parametrize("fmt", ["qcow2", "raw"])
def test_the_copy_xml_names_exactly_the_file_whatever_its_name_holds(fmt: str) -> None:
    dom = Dom(f"{IMAGES}/{NASTY}", fmt)
    stats = _move(dom)
    assert stats.state is JobState.COMPLETED
    ((disk, spec, flags),) = dom.copies
    assert (disk, flags) == ("vda", moves.BLOCK_COPY_TRANSIENT_JOB)
    root = ET.fromstring(spec)
    assert root.tag == "disk" and root.get("type") == "file"
    assert [child.tag for child in root] == ["driver", "source"]
    assert root.find("source").attrib == {"file": f"{POOL}/{NASTY}"}  # type: ignore[union-attr]
    assert root.find("driver").attrib == {"type": fmt}  # type: ignore[union-attr]
    assert dom.aborts == [("vda", moves.BLOCK_JOB_ABORT_PIVOT)]


@pytest.mark.parametrize("source", [
    f"{IMAGES}/../../../etc/x.qcow2",
    f"{IMAGES}/..",
    f"{IMAGES}/.",
    f"{IMAGES}/",
])
def test_a_source_path_that_could_leave_the_pool_is_refused(source: str) -> None:
    dom = Dom(source)
    with pytest.raises(PermanentBackendError, match=r"disk vda.*(\.\.|file name)") as raised:
        _move(dom)
    assert repr(source) in str(raised.value)
    assert dom.copies == []


@pytest.mark.parametrize(("pool", "source", "target"), [
    (POOL, f"{IMAGES}/vm.img", f"{POOL}/vm.img"),
    (POOL + "/", f"{IMAGES}/vm.img", f"{POOL}/vm.img"),
    (POOL, f"{IMAGES}/..vm..img", f"{POOL}/..vm..img"),
])
def test_the_copy_lands_in_the_pool_directory_under_the_same_name(pool: str, source: str, target: str) -> None:
    assert moves.copy_target(pool, source, "where") == target


def test_a_disk_already_in_the_pool_is_refused() -> None:
    with pytest.raises(PermanentBackendError, match="already there"):
        _move(Dom(f"{POOL}/vm.img"), POOL + "/")
