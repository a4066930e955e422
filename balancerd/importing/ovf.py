"""Reading an OVF descriptor (OVF 1.x and 2.x, as VMware's ovftool / vCenter, VirtualBox and others write it).

Called by the import command's source reader (:mod:`balancerd.importing.reading`) for a ``.ovf`` file, and for
the descriptor of an ``.ova`` once :func:`balancerd.importing.ova.unpack` has extracted it (and
:func:`balancerd.importing.ova.verify_manifest` has checked it). Pure: text in, values out; no file access.
:func:`parse` returns the guest; :func:`references` lists the package's files for the manifest check.

What is read, and the choices made where the export leaves room:

* The one ``VirtualSystem`` of the envelope; a ``VirtualSystemCollection`` of several guests is refused (one
  guest per import). Of its ``VirtualHardwareSection`` elements the first is read.
* Hardware items are ``Item`` (OVF 1.x) and also ``StorageItem`` / ``EthernetPortItem`` (OVF 2.0). Their fields
  are matched by local name, because the rasd / sasd / epasd namespace URIs vary between writers (VirtualBox
  appends ``.xsd``). An item of another deployment configuration (``ovf:configuration``; the default of the
  ``DeploymentOptionSection`` is taken) and the ``min`` / ``max`` items of a range (``ovf:bound``) are skipped.
  ``ovf:required="false"`` and ``AutomaticAllocation`` false do not hide an item: it is in the export.
* Disks are the hard-disk items (ResourceType 17) in document order, each resolved through the ``DiskSection``
  and ``References``; a disk of the ``DiskSection`` that no item attaches is not part of the guest and is left
  out. A delta disk (``ovf:parentRef``, one link of a snapshot chain) is refused: ovftool and vCenter export the
  current state of a VM with snapshots as consolidated disks, and a delta alone is not a disk. Snapshot
  descriptions in vendor sections (VirtualBox's ``vbox:Machine`` ``Snapshot`` elements) are ignored: the
  ``VirtualHardwareSection`` describes the current state.
* Firmware: ``vmw:Config vmw:key="firmware" vmw:value="efi"`` (what ovftool writes; ``ovf:key`` / ``ovf:value``
  are accepted too), else VirtualBox's ``vbox:Machine/Hardware/Firmware type="EFI"``, else BIOS.
* File names (``ovf:href``) must be relative paths inside the package: URLs, absolute paths and ``..`` are
  refused, so that a descriptor cannot make the import read a file outside its folder.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from pathlib import PurePosixPath

from balancerd.importing.ovfpackage import (
    REEXPORT,
    Disk,
    Envelope,
    Reference,
    disks,
    envelope,
    files,
    integer,
    unit_bytes,
)
from balancerd.importing.source import Firmware, SourceCdrom, SourceDisk, SourceGuest, SourceNic

RASD = "http://schemas.dmtf.org/wbem/wscim/1/cim-schema/2/CIM_ResourceAllocationSettingData"
VSSD = "http://schemas.dmtf.org/wbem/wscim/1/cim-schema/2/CIM_VirtualSystemSettingData"
VMW = "http://www.vmware.com/schema/ovf"
VBOX = "http://www.virtualbox.org/ovf/machine"

_ITEM_TAGS = ("Item", "StorageItem", "EthernetPortItem")
_CPU, _MEMORY, _IDE, _SCSI, _ETHERNET, _CD, _DVD, _DISK, _OTHER_STORAGE = 3, 4, 5, 6, 10, 15, 16, 17, 20
_CONTROLLERS = {
    "virtualscsi": ("scsi", "pvscsi"), "lsilogic": ("scsi", "lsilogic"), "lsilogicsas": ("scsi", "lsisas1068"),
    "buslogic": ("scsi", "buslogic"), "virtioscsi": ("scsi", "virtio-scsi"), "vmware.sata.ahci": ("sata", "ahci"),
    "ahci": ("sata", "ahci"), "vmware.nvme.controller": ("nvme", "nvme"), "nvme": ("nvme", "nvme"),
}
_NIC_MODELS = {"pcnet32": "vlance"}
_FORMAT_WORDS = (("vmdk", "vmdk"), ("vhdx", "vhdx"), ("vhd", "vhd"), ("qcow", "qcow2"), ("vdi", "vdi"), ("raw", "raw"))
_FORMAT_SUFFIXES = {".vmdk": "vmdk", ".vhdx": "vhdx", ".vhd": "vhd", ".qcow2": "qcow2", ".vdi": "vdi",
                    ".raw": "raw", ".img": "raw"}
_HOST_RESOURCE = re.compile(r"(?:ovf:)?/(disk|file)/(.+)")


@dataclass(frozen=True, slots=True)
class _Item:
    kind: int
    fields: dict[str, str]

    def get(self, name: str) -> str:
        return self.fields.get(name, "")

    def describe(self) -> str:
        label = self.get("ElementName") or self.get("Caption")
        return f"the Item with InstanceID {self.get('InstanceID') or '?'}" + (f" ({label})" if label else "")


@dataclass(frozen=True, slots=True)
class _Hardware:
    env: Envelope
    items: tuple[_Item, ...]
    controllers: dict[str, tuple[str, str] | None]
    disks: dict[str, Disk]
    files: dict[str, Reference]


def parse(text: str, path: str = "<ovf>") -> SourceGuest:
    """The guest an OVF descriptor describes; :class:`ImportSourceError` naming ``path`` when it cannot."""
    env = envelope(text, path)
    system = _virtual_system(env)
    section = system.find(env.tag("VirtualHardwareSection"))
    if section is None:
        raise env.error(f"the VirtualSystem {_name(env, system)!r} has no VirtualHardwareSection", REEXPORT)
    items = _items(env, section, _configuration(env))
    hardware = _Hardware(env, items, _controllers(items), disks(env), files(env))
    vcpus, sockets, cores = _cpu(env, items)
    return SourceGuest(
        format="ovf", name=_name(env, system), memory_bytes=_memory(env, items), vcpus=vcpus,
        firmware=_firmware(env, section, system), disks=_guest_disks(hardware), cdroms=_cdroms(hardware),
        nics=_nics(items), sockets=sockets, cores_per_socket=cores, guest_os=_guest_os(env, system))


def references(text: str, path: str = "<ovf>") -> tuple[Reference, ...]:
    """Every ``File`` of the descriptor's ``References``, in document order (for the manifest check)."""
    return tuple(files(envelope(text, path)).values())


# --- the envelope -----------------------------------------------------------------------------------------------


def _virtual_system(env: Envelope) -> ET.Element:
    systems = list(env.root.iter(env.tag("VirtualSystem")))
    if not systems:
        raise env.error("the envelope holds no VirtualSystem", "import an OVF that describes a virtual machine")
    if len(systems) > 1:
        names = ", ".join(repr(_name(env, system, "?")) for system in systems)
        raise env.error(f"the VirtualSystemCollection holds {len(systems)} guests ({names}); only one guest per "
                        "import is supported", "export each VM of the vApp on its own and import them one by one")
    return systems[0]


def _name(env: Envelope, system: ET.Element, default: str | None = None) -> str:
    name = env.attr(system, "id") or (system.findtext(env.tag("Name")) or "").strip()
    if name or default is not None:
        return name or str(default)
    raise env.error("the VirtualSystem has neither an ovf:id nor a Name", "give the VirtualSystem an ovf:id")


def _guest_os(env: Envelope, system: ET.Element) -> str:
    section = system.find(env.tag("OperatingSystemSection"))
    if section is None:
        return ""
    return (section.get(f"{{{VMW}}}osType") or section.findtext(env.tag("Description")) or "").strip()


def _configuration(env: Envelope) -> str:
    section = next(env.root.iter(env.tag("DeploymentOptionSection")), None)
    configurations = [] if section is None else section.findall(env.tag("Configuration"))
    chosen = [c for c in configurations if env.attr(c, "default") == "true"] or configurations
    return env.attr(chosen[0], "id") if chosen else ""


# --- hardware items ---------------------------------------------------------------------------------------------


def _local(tag: str) -> str:
    return tag.rpartition("}")[2]


def _items(env: Envelope, section: ET.Element, configuration: str) -> tuple[_Item, ...]:
    tags = {env.tag(name) for name in _ITEM_TAGS}
    return tuple(_item(env, e) for e in section if e.tag in tags and _applies(env, e, configuration))


def _applies(env: Envelope, element: ET.Element, configuration: str) -> bool:
    configurations = env.attr(element, "configuration").split()
    in_configuration = not configurations or configuration in configurations
    return in_configuration and env.attr(element, "bound") in ("", "normal")


def _item(env: Envelope, element: ET.Element) -> _Item:
    fields = {_local(child.tag): (child.text or "").strip() for child in reversed(element)}
    item = _Item(0, fields)
    try:
        return _Item(int(item.get("ResourceType")), fields)
    except ValueError as exc:
        raise env.error(f"{item.describe()} has ResourceType {item.get('ResourceType')!r}, not a number",
                        "give every Item a numeric rasd:ResourceType") from exc


def _of_kind(items: tuple[_Item, ...], *kinds: int) -> list[_Item]:
    return [item for item in items if item.kind in kinds]


def _cpu(env: Envelope, items: tuple[_Item, ...]) -> tuple[int, int, int]:
    cpus = _of_kind(items, _CPU)
    fix = "give the CPU Item (rasd:ResourceType 3) a positive rasd:VirtualQuantity"
    if not cpus:
        raise env.error("the VirtualHardwareSection has no CPU Item (rasd:ResourceType 3)",
                        "add one with the vCPU count as rasd:VirtualQuantity")
    vcpus = integer(env, cpus[0].get("VirtualQuantity"), "the CPU quantity", fix)
    cores = integer(env, cpus[0].get("CoresPerSocket") or "0", "vmw:CoresPerSocket", "use a whole number")
    if vcpus < 1 or cores < 0 or (cores and vcpus % cores):
        raise env.error(f"{vcpus} vCPUs with {cores} cores per socket is not a CPU topology",
                        "use a positive vCPU count that is a multiple of vmw:CoresPerSocket")
    return vcpus, (vcpus // cores if cores else 0), cores


def _memory(env: Envelope, items: tuple[_Item, ...]) -> int:
    memories = _of_kind(items, _MEMORY)
    fix = "give the memory Item (rasd:ResourceType 4) a whole-number rasd:VirtualQuantity, e.g. 4096 in byte * 2^20"
    if not memories:
        raise env.error("the VirtualHardwareSection has no memory Item (rasd:ResourceType 4)",
                        "add one, e.g. rasd:VirtualQuantity 4096 with rasd:AllocationUnits byte * 2^20")
    quantity = integer(env, memories[0].get("VirtualQuantity"), "the memory quantity", fix)
    units = memories[0].get("AllocationUnits") or "byte * 2^20"
    unit = unit_bytes(units)
    if unit is None:
        raise env.error(f"the memory AllocationUnits {units!r} are not a unit balancerd knows",
                        "use byte * 2^20 (MiB), byte * 2^30 (GiB), MegaBytes or GigaBytes")
    return quantity * unit


def _firmware(env: Envelope, section: ET.Element, system: ET.Element) -> Firmware:
    for config in section.findall(f"{{{VMW}}}Config"):
        if _vmw_attr(env, config, "key") == "firmware":
            return _firmware_value(env, _vmw_attr(env, config, "value"))
    for machine in system.iter(f"{{{VBOX}}}Machine"):
        for hardware in (child for child in machine if _local(child.tag) == "Hardware"):
            for firmware in (child for child in hardware if _local(child.tag) == "Firmware"):
                return "uefi" if firmware.get("type", "").upper().startswith("EFI") else "bios"
    return "bios"


def _vmw_attr(env: Envelope, element: ET.Element, name: str) -> str:
    value = element.get(f"{{{VMW}}}{name}")
    return env.attr(element, name) if value is None else value.strip()


def _firmware_value(env: Envelope, value: str) -> Firmware:
    if value.lower() in ("efi", "bios"):
        return "uefi" if value.lower() == "efi" else "bios"
    raise env.error(f"the vmw:Config firmware value {value!r} is neither efi nor bios", "set it to efi or bios")


# --- controllers, disks, CD-ROMs, NICs --------------------------------------------------------------------------


def _controllers(items: tuple[_Item, ...]) -> dict[str, tuple[str, str] | None]:
    controllers: dict[str, tuple[str, str] | None] = {}
    for item in _of_kind(items, _IDE, _SCSI, _OTHER_STORAGE):
        controllers.setdefault(item.get("InstanceID"), _controller(item))
    return controllers


def _controller(item: _Item) -> tuple[str, str] | None:
    subtype = item.get("ResourceSubType").lower()
    if item.kind == _IDE:
        return ("ide", "ide")
    if subtype in _CONTROLLERS:
        return _CONTROLLERS[subtype]
    return ("scsi", subtype) if item.kind == _SCSI else None


def _bus(hardware: _Hardware, item: _Item) -> tuple[str, str]:
    parent = item.get("Parent")
    fix = "set rasd:Parent to the InstanceID of an IDE, SCSI, SATA or NVMe controller Item"
    if parent not in hardware.controllers:
        raise hardware.env.error(f"{item.describe()} names controller {parent!r} (rasd:Parent), which is not a "
                                 "disk controller of the VirtualHardwareSection", fix)
    bus = hardware.controllers[parent]
    if bus is None:
        raise hardware.env.error(f"{item.describe()} hangs on controller {parent!r}, a storage controller of a kind "
                                 "balancerd does not know", fix)
    return bus


def _host_resource(item: _Item) -> tuple[str, str]:
    match = _HOST_RESOURCE.fullmatch(item.get("HostResource"))
    return (match[1], match[2]) if match else ("", "")


def _guest_disks(hardware: _Hardware) -> tuple[SourceDisk, ...]:
    disks = tuple(_guest_disk(hardware, item) for item in _of_kind(hardware.items, _DISK))
    if not disks:
        raise hardware.env.error("the VirtualHardwareSection has no disk (no Item with rasd:ResourceType 17)",
                                 "export the VM with its disks")
    return disks


def _guest_disk(hardware: _Hardware, item: _Item) -> SourceDisk:
    env = hardware.env
    kind, disk_id = _host_resource(item)
    if kind != "disk" or disk_id not in hardware.disks:
        raise env.error(f"{item.describe()} has HostResource {item.get('HostResource')!r}, which names no Disk of "
                        "the DiskSection", "point rasd:HostResource at ovf:/disk/<ovf:diskId of a DiskSection Disk>")
    disk = hardware.disks[disk_id]
    if disk.parent_ref:
        raise env.error(f"disk {disk_id!r} is a delta of disk {disk.parent_ref!r} (ovf:parentRef, a snapshot chain)",
                        "consolidate the snapshots (or " + REEXPORT + ", which exports the current state)")
    if disk.file_ref not in hardware.files:
        raise env.error(f"disk {disk_id!r} has ovf:fileRef {disk.file_ref!r}, which names no File of the References",
                        "export the VM with its disk files (an empty disk without a file is not imported)")
    file = hardware.files[disk.file_ref]
    bus, controller = _bus(hardware, item)
    return SourceDisk(bus=bus, file=file.href, format=_disk_format(disk.format_uri, file.href),
                      virtual_size_bytes=disk.capacity_bytes, controller=controller, compression=file.compression,
                      chunk_size=file.chunk_size)


def _disk_format(uri: str, href: str) -> str:
    lowered = uri.lower()
    for word, name in _FORMAT_WORDS:
        if word in lowered:
            return name
    return _FORMAT_SUFFIXES.get(PurePosixPath(href).suffix.lower(), "")


def _cdroms(hardware: _Hardware) -> tuple[SourceCdrom, ...]:
    return tuple(_cdrom(hardware, item) for item in _of_kind(hardware.items, _CD, _DVD))


def _cdrom(hardware: _Hardware, item: _Item) -> SourceCdrom:
    kind, file_id = _host_resource(item)
    image = hardware.files.get(file_id) if kind == "file" else None
    return SourceCdrom(bus=_bus(hardware, item)[0], file=image.href if image else "")


def _nics(items: tuple[_Item, ...]) -> tuple[SourceNic, ...]:
    return tuple(_nic(item) for item in _of_kind(items, _ETHERNET))


def _nic(item: _Item) -> SourceNic:
    model = item.get("ResourceSubType").lower()
    return SourceNic(network=item.get("Connection"), mac=item.get("Address").lower() or None,
                     model=_NIC_MODELS.get(model, model))


