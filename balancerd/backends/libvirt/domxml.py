"""Pure reading and rewriting of libvirt domain XML for migrations (issue 6).

Called by ``backends.libvirt.cluster`` and ``backends.libvirt.moves``: which disks a domain has and which of them
are local (writable, not under a shared path: they must be copied by a storage migration), which networks
or bridges its interfaces use, its ``<cpu>`` element (for ``compareHypervisorCPU``), the
``<balancerd:policy .../>`` overrides, and the destination XML with interfaces moved through a network map
(lab notes pitfall 11: both the live and the persistent XML). It also writes the ``<disk>`` a block copy goes
to. No libvirt import: strings in, values out. Every XML written here is built with ElementTree, never by
formatting strings, so file and network names are escaped whatever they hold (issue 19).
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from balancerd.backends.base import VmPolicy
from balancerd.backends.libvirt.parse import POLICY_NS

_NO = ("no", "false", "0", "off")
_YES = ("yes", "true", "1", "on")


@dataclass(frozen=True, slots=True)
class Disk:
    """One disk device: its target (``vda``), source file, format and whether it is read-only."""

    target: str
    path: str
    format: str
    readonly: bool


@dataclass(frozen=True, slots=True)
class Interface:
    """One NIC: ``network`` or ``bridge`` and the name it attaches to."""

    type: str
    source: str


def _root(xml: str) -> ET.Element:
    try:
        return ET.fromstring(xml)
    except ET.ParseError as exc:
        raise ValueError(f"unreadable domain XML: {exc}") from exc


def disks(xml: str) -> tuple[Disk, ...]:
    """Every file or block disk (not cdroms) with a source."""
    found = []
    for node in _root(xml).iterfind("devices/disk"):
        if node.get("device", "disk") != "disk":
            continue
        source = node.find("source")
        target = node.find("target")
        path = None if source is None else (source.get("file") or source.get("dev"))
        if path is None or target is None:
            continue
        driver = node.find("driver")
        fmt = "raw" if driver is None else driver.get("type", "raw")
        found.append(Disk(target.get("dev", ""), path, fmt, node.find("readonly") is not None))
    return tuple(found)


def is_shared(path: str, shared_paths: Iterable[str]) -> bool:
    """True when ``path`` lies under one of ``shared_paths`` (a storage every host sees)."""
    return any(path == root or path.startswith(root.rstrip("/") + "/") for root in shared_paths if root)


def local_disks(xml: str, shared_paths: Iterable[str]) -> tuple[Disk, ...]:
    """Writable disks not on a shared path: what a storage migration must copy."""
    shared = tuple(shared_paths)
    return tuple(d for d in disks(xml) if not d.readonly and not is_shared(d.path, shared))


def interfaces(xml: str) -> tuple[Interface, ...]:
    """NICs attached to a libvirt network or a bridge."""
    found = []
    for node in _root(xml).iterfind("devices/interface"):
        source = node.find("source")
        if source is None:
            continue
        if source.get("network"):  # live XML of a bridge-mode network says type='bridge' + network=...
            found.append(Interface("network", source.get("network", "")))
        elif node.get("type") == "bridge" and source.get("bridge"):
            found.append(Interface("bridge", source.get("bridge", "")))
    return tuple(found)


def cpu_xml(xml: str) -> str | None:
    """The domain's ``<cpu>`` element as a string, or None when it has none."""
    cpu = _root(xml).find("cpu")
    return None if cpu is None else ET.tostring(cpu, encoding="unicode")


def cpu_definition(xml: str) -> tuple[str, str]:
    """(mode, model) of the domain's CPU: ("", "") without ``<cpu>``; a model without a mode is "custom"."""
    cpu = _root(xml).find("cpu")
    if cpu is None:
        return "", ""
    model = (cpu.findtext("model") or "").strip()
    return cpu.get("mode", "custom" if model else ""), model


def host_cpu_model(capabilities_xml: str) -> str:
    """The host CPU's model name from ``getCapabilities`` ("" when it names none)."""
    return (_root(capabilities_xml).findtext("host/cpu/model") or "").strip()


def os_facts(xml: str) -> tuple[str, str, str, str]:
    """(emulator, arch, machine, virt type) for ``compareHypervisorCPU``."""
    root = _root(xml)
    os_type = root.find("os/type")
    arch = "" if os_type is None else os_type.get("arch", "")
    machine = "" if os_type is None else os_type.get("machine", "")
    return root.findtext("devices/emulator", ""), arch, machine, root.get("type", "")


def map_networks(xml: str, mapping: Mapping[str, str]) -> str:
    """``xml`` with each interface's network or bridge replaced by ``mapping[name]`` where it has one."""
    if not mapping:
        return xml
    root = _root(xml)
    for node in root.iterfind("devices/interface"):
        source = node.find("source")
        if source is None:
            continue
        network, bridge = source.get("network"), source.get("bridge")
        if network is not None and network in mapping:
            node.set("type", "network")
            source.attrib.clear()  # drop the source network's bridge and port of a live XML
            source.set("network", mapping[network])
        elif network is None and node.get("type") == "bridge" and bridge in mapping:
            source.set("bridge", mapping[bridge or ""])
    return ET.tostring(root, encoding="unicode")


def disk_copy_xml(path: str, fmt: str) -> str:
    """The ``<disk>`` a ``blockCopy`` writes to: the file ``path`` in format ``fmt`` (qcow2, raw)."""
    disk = ET.Element("disk", type="file")
    ET.SubElement(disk, "driver", type=fmt)
    ET.SubElement(disk, "source", file=path)
    return ET.tostring(disk, encoding="unicode")


def _flag(value: str | None) -> bool | None:
    if value is None:
        return None
    text = value.strip().lower()
    return True if text in _YES else False if text in _NO else None


def _number(value: str | None) -> int | None:
    try:
        return None if value is None else max(0, int(value))
    except ValueError:
        return None


def vm_policy(policy_xml: str | None) -> VmPolicy:
    """``<balancerd:policy live="no" max_downtime_ms="50" postcopy="yes" auto_converge="no"
    bandwidth_mib_s="50" cold="yes"/>``; absent or unreadable attributes keep the defaults."""
    if not policy_xml:
        return VmPolicy()
    try:
        element = ET.fromstring(policy_xml)
    except ET.ParseError:
        return VmPolicy()
    node = next((n for n in element.iter() if n.tag in ("policy", f"{{{POLICY_NS}}}policy")), None)
    if node is None:
        return VmPolicy()
    return VmPolicy(
        live=_flag(node.get("live")) is not False,
        max_downtime_ms=_number(node.get("max_downtime_ms")),
        postcopy=_flag(node.get("postcopy")),
        auto_converge=_flag(node.get("auto_converge")),
        bandwidth_mib_s=_number(node.get("bandwidth_mib_s")) or None,
        cold=_flag(node.get("cold")),
    )


def pool_path(pool_xml: str) -> str:
    """The target directory of a storage pool's XML ("" when it has none)."""
    return _root(pool_xml).findtext("target/path", "")
