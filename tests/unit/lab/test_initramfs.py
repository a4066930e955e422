"""Unit tests of the initramfs builder (cpio newc + gzip) and the guest /init script."""

from __future__ import annotations

import gzip
import stat

from balancerd.lab import initramfs


def _members(archive: bytes) -> dict[str, tuple[int, bytes, int, int]]:
    """Parse a newc archive: name -> (mode, data, rdevmajor, rdevminor)."""
    found = {}
    pos = 0
    while True:
        header = archive[pos:pos + 110]
        assert header[:6] == b"070701"
        fields = [int(header[6 + 8 * i:14 + 8 * i], 16) for i in range(13)]
        namesize, filesize = fields[11], fields[6]
        name = archive[pos + 110:pos + 110 + namesize - 1].decode()
        pos += 110 + namesize
        pos += -pos % 4
        data = archive[pos:pos + filesize]
        pos += filesize
        pos += -pos % 4
        if name == "TRAILER!!!":
            return found
        found[name] = (fields[1], data, fields[9], fields[10])


def test_archive_holds_init_busybox_console_and_modules() -> None:
    image = initramfs.build(b"BUSYBOX", [("virtio", b"MOD")])
    members = _members(gzip.decompress(image))
    assert members["bin/busybox"][1] == b"BUSYBOX"
    assert stat.S_IMODE(members["init"][0]) == 0o755
    assert members["lib/modules/virtio.ko"][1] == b"MOD"
    mode, _, major, minor = members["dev/console"]
    assert stat.S_ISCHR(mode) and (major, minor) == (5, 1)
    assert stat.S_ISDIR(members["proc"][0])


def test_build_is_deterministic() -> None:
    assert initramfs.build(b"x", []) == initramfs.build(b"x", [])


def test_init_loads_modules_in_dependency_order_and_ticks() -> None:
    script = initramfs.init_script()
    assert script.startswith("#!/bin/busybox sh\n")
    order = script.split("for m in ", 1)[1].split(";", 1)[0].split()
    assert order.index("virtio_ring") < order.index("virtio") < order.index("virtio_pci")
    assert 'echo "TICK $i boot=$boot" > /dev/ttyS0' in script
    assert "Power Button" in script and "poweroff -f" in script


def test_data_is_padded_to_four_bytes() -> None:
    archive = initramfs.cpio_newc([initramfs.Entry("a", stat.S_IFREG | 0o644, b"12345")])
    assert len(archive) % 4 == 0
    assert _members(archive)["a"][1] == b"12345"


def test_init_writes_ticks_to_a_data_disk_found_by_serial() -> None:
    script = initramfs.init_script()
    assert f"= {initramfs.DATA_SERIAL} ]" in script
    assert 'dd of=$data bs=512 count=1 conv=notrunc,sync oflag=direct' in script
