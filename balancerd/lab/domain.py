"""Pure generator of the lab guests' libvirt domain XML.

Called by guests.py to define ``vm1..vmK`` (and the KVM probe guest); unit-tested in
tests/unit/lab/test_domain.py. A guest is a Debian kernel + busybox initramfs (assets.py) with 96 MiB,
one vCPU, ACPI (for the power button), a virtio balloon with stats every 2 s, a NIC on the ``prod``
network and its serial console appended to a file on a path every host sees. The XML is built with
ElementTree, never by formatting strings, so names and paths are escaped whatever they hold (issue 19).
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from pathlib import Path

GUEST_MEMORY_MIB = 96  # 64 and 80 MiB never boot (lab-notes pitfall 3)
TB_CACHE_MIB = 32
KERNEL_CMDLINE = "console=ttyS0 quiet panic=-1"
POLICY_NS = "https://balancerd.dev/1"
_POLICY_ATTR = re.compile(r"\s*([A-Za-z_][A-Za-z0-9_]*)=(?:'([^']*)'|\"([^\"]*)\")\s*")


@dataclass(frozen=True, slots=True)
class GuestSpec:
    """Everything that varies between lab guests."""

    name: str
    kernel: Path
    initrd: Path
    console: Path
    virt: str = "qemu"  # libvirt domain type: "qemu" (TCG) or "kvm"
    memory_mib: int = GUEST_MEMORY_MIB
    network: str | None = "prod"
    control_disk: Path | None = None
    data_disk: Path | None = None
    """A writable raw disk (``vda``, serial balancerd-data) the guest writes TICKs to (storage tests)."""
    policy: str = ""
    """Attributes of ``<balancerd:policy .../>`` metadata, e.g. ``live='no'`` ("" = none)."""


def domain_xml(spec: GuestSpec) -> str:
    """The persistent definition of one guest."""
    if spec.virt not in ("qemu", "kvm"):
        raise ValueError(f"virt must be 'qemu' or 'kvm', not {spec.virt!r}")
    root = ET.Element("domain", type=spec.virt)
    ET.SubElement(root, "name").text = spec.name
    ET.SubElement(root, "memory", unit="MiB").text = str(spec.memory_mib)
    ET.SubElement(root, "currentMemory", unit="MiB").text = str(spec.memory_mib)
    ET.SubElement(root, "vcpu").text = "1"
    _os(root, spec)
    _features(root, spec.virt)
    ET.SubElement(root, "clock", offset="utc")
    for event, action in (("on_poweroff", "destroy"), ("on_reboot", "restart"), ("on_crash", "destroy")):
        ET.SubElement(root, event).text = action
    _metadata(root, spec.policy)
    _devices(root, spec)
    ET.indent(root)
    return ET.tostring(root, encoding="unicode") + "\n"


def _os(root: ET.Element, spec: GuestSpec) -> None:
    node = ET.SubElement(root, "os")
    ET.SubElement(node, "type", arch="x86_64", machine="pc").text = "hvm"
    ET.SubElement(node, "kernel").text = str(spec.kernel)
    ET.SubElement(node, "initrd").text = str(spec.initrd)
    ET.SubElement(node, "cmdline").text = KERNEL_CMDLINE


def _features(root: ET.Element, virt: str) -> None:
    features = ET.SubElement(root, "features")
    ET.SubElement(features, "acpi")
    if virt == "qemu":
        tcg = ET.SubElement(features, "tcg")
        ET.SubElement(tcg, "tb-cache", unit="MiB").text = str(TB_CACHE_MIB)


def policy_attributes(policy: str) -> dict[str, str]:
    """``live='no' max_downtime_ms="50"`` as {name: value}; anything else in the string is a ValueError."""
    found: dict[str, str] = {}
    position = 0
    while position < len(policy):
        match = _POLICY_ATTR.match(policy, position)
        if match is None or match.end() == position:
            raise ValueError(f"policy must be name='value' pairs, not {policy!r}")
        name, single, double = match.groups()
        found[name] = single if single is not None else double
        position = match.end()
    return found


def _metadata(root: ET.Element, policy: str) -> None:
    attributes = policy_attributes(policy)
    if not attributes:
        return
    # The namespace declared on the element itself, as libvirt keeps metadata (ElementTree would move a
    # ``{uri}policy`` tag's declaration up to <domain> and needs a global prefix registration for the name).
    ET.SubElement(ET.SubElement(root, "metadata"), "balancerd:policy", {"xmlns:balancerd": POLICY_NS, **attributes})


def _disk(devices: ET.Element, path: Path, target: str, serial: str, readonly: bool) -> None:
    disk = ET.SubElement(devices, "disk", type="file", device="disk")
    ET.SubElement(disk, "driver", name="qemu", type="raw", cache="none")
    ET.SubElement(disk, "source", file=str(path))
    ET.SubElement(disk, "target", dev=target, bus="virtio")
    if readonly:
        ET.SubElement(disk, "readonly")
    ET.SubElement(disk, "serial").text = serial


def _devices(root: ET.Element, spec: GuestSpec) -> None:
    devices = ET.SubElement(root, "devices")
    ET.SubElement(devices, "emulator").text = "/usr/bin/qemu-system-x86_64"
    serial = ET.SubElement(devices, "serial", type="file")
    ET.SubElement(serial, "source", path=str(spec.console), append="on")
    ET.SubElement(serial, "target", port="0")
    if spec.data_disk is not None:
        _disk(devices, spec.data_disk, "vda", "balancerd-data", readonly=False)
    if spec.control_disk is not None:
        _disk(devices, spec.control_disk, "vdz", "balancerd-ctl", readonly=True)
    if spec.network is not None:
        nic = ET.SubElement(devices, "interface", type="network")
        ET.SubElement(nic, "source", network=spec.network)
        ET.SubElement(nic, "model", type="virtio")
    balloon = ET.SubElement(devices, "memballoon", model="virtio")
    ET.SubElement(balloon, "stats", period="2")
