"""e2e proof that :func:`tests.e2e.bootdisk.build` makes a disk a lab guest boots FROM (SeaBIOS -> mbr.bin ->
SYSLINUX -> the lab's kernel + initramfs; no ``<kernel>`` in the domain XML), also after a round trip through
VMDK (what a VMware / OVA export holds) and back to qcow2 in the lab's shared pool folder.

Uses the session ``lab``: one extra guest at a time on host1, destroyed, undefined and its files removed.
"""

from __future__ import annotations

import json
import subprocess
import time
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import pytest

from balancerd.lab import connect, domain, paths

from . import bootdisk
from .conftest import TICK_TIMEOUT_S
from .libvirt_lab import ticks

pytestmark = pytest.mark.e2e

MEMORY_MIB = 128


def _qemu_img(*args: str) -> str:
    return subprocess.run(["qemu-img", *args], capture_output=True, text=True, check=True, timeout=120).stdout


def _domain_xml(name: str, virt: str, disk: Path, console: Path) -> str:
    root = ET.Element("domain", type=virt)
    ET.SubElement(root, "name").text = name
    ET.SubElement(root, "memory", unit="MiB").text = str(MEMORY_MIB)
    ET.SubElement(root, "vcpu").text = "1"
    os_node = ET.SubElement(root, "os")
    ET.SubElement(os_node, "type", arch="x86_64", machine="pc").text = "hvm"
    ET.SubElement(os_node, "boot", dev="hd")
    features = ET.SubElement(root, "features")
    ET.SubElement(features, "acpi")
    if virt == "qemu":
        ET.SubElement(ET.SubElement(features, "tcg"), "tb-cache", unit="MiB").text = str(domain.TB_CACHE_MIB)
    ET.SubElement(root, "on_reboot").text = "destroy"  # a panic (panic=-1) ends the guest instead of looping
    devices = ET.SubElement(root, "devices")
    ET.SubElement(devices, "emulator").text = "/usr/bin/qemu-system-x86_64"
    drive = ET.SubElement(devices, "disk", type="file", device="disk")
    ET.SubElement(drive, "driver", name="qemu", type="qcow2")
    ET.SubElement(drive, "source", file=str(disk))
    ET.SubElement(drive, "target", dev="vda", bus="virtio")
    serial = ET.SubElement(devices, "serial", type="file")
    ET.SubElement(serial, "source", path=str(console), append="on")
    ET.SubElement(serial, "target", port="0")
    return ET.tostring(root, encoding="unicode")


@pytest.mark.parametrize("subformat", ["monolithicSparse", "streamOptimized"])
def test_vmdk_round_trip_boots_from_disk(lab: dict[str, Any], tmp_path: Path, subformat: str) -> None:
    layout = paths.LabLayout(Path(lab["dir"]))
    name = f"bootdisk-{subformat.lower()}"
    raw, vmdk = tmp_path / "boot.raw", tmp_path / "boot.vmdk"
    image = layout.shared / f"{name}.qcow2"  # = paths.SHARED_MOUNT / same name inside every host
    console = layout.console(name)
    console.unlink(missing_ok=True)
    try:
        bootdisk.build(raw, layout.boot / "vmlinuz", layout.boot / "initrd.img")
        _qemu_img("convert", "-f", "raw", "-O", "vmdk", "-o", f"subformat={subformat}", str(raw), str(vmdk))
        info = json.loads(_qemu_img("info", "--output=json", str(vmdk)))
        assert (info["format"], info["format-specific"]["data"]["create-type"]) == ("vmdk", subformat)
        _qemu_img("convert", "-f", "vmdk", "-O", "qcow2", str(vmdk), str(image))
        xml = _domain_xml(name, lab["virt"], paths.SHARED_MOUNT / image.name, console)
        with connect.connection(lab["hosts"][0]["uri"]) as conn:
            dom = conn.defineXML(xml)
            try:
                assert ET.fromstring(dom.XMLDesc(0)).find("os/kernel") is None
                started = time.monotonic()
                dom.create()
                deadline = started + TICK_TIMEOUT_S
                while not (console.exists() and ticks(console)) and dom.isActive() and time.monotonic() < deadline:
                    time.sleep(0.2)
                boot_s = time.monotonic() - started
                output = console.read_text(errors="replace") if console.exists() else ""
                assert output and ticks(console), f"{name}: no TICK after {boot_s:.1f} s; console:\n{output[-2000:]}"
                assert "SYSLINUX" in output  # its banner (SERIAL 0 in syslinux.cfg): booted by the disk's loader
                print(f"{name}: first TICK {boot_s:.1f} s after start")
            finally:
                if dom.isActive():
                    dom.destroy()
                dom.undefine()
    finally:
        image.unlink(missing_ok=True)
        console.unlink(missing_ok=True)
        raw.unlink(missing_ok=True)
        vmdk.unlink(missing_ok=True)
