"""The VMware ``.vmx`` parser: one guest's configuration, as Workstation, Fusion and ESXi write it.

Called by the import command's source reader (:mod:`balancerd.importing.reading`) for ``balancerd import
guest.vmx``: it reads the file's bytes, turns them into text with :func:`decode` (which honours the file's
``.encoding`` line) and hands the text and the file's path to :func:`parse`, which returns the
:class:`~balancerd.importing.source.SourceGuest` that the mapping, the checks and ``--dry-run --json`` read.
Pure: no file is opened here; the path only names the file in messages.

The format, as far as it is known (VMware never specified it; libvirt's ``src/vmx`` and virt-v2v's
``parse_vmx`` are the references): one ``key = "value"`` per line, ``#`` comments, keys compared without
case, ``|XX`` escapes a character by its hex code inside a value (``|22`` is a quote), booleans are
``"TRUE"`` / ``"FALSE"`` in any case, and ``name.present = "FALSE"`` switches a device off with all its keys.
A key written twice keeps its last value. Every malformed line or value raises
:class:`~balancerd.errors.ImportSourceError` naming the file, the line, what is wrong and the fix.

Disks are listed with ``fileName`` as written, relative to the ``.vmx``'s folder (or absolute). A guest with
snapshots names its newest delta (``web-000002.vmdk``): that file is listed as it is, and qemu-img follows the
delta's chain of parents when it converts it, so the import gets the guest's current state.
"""

from __future__ import annotations

import codecs
import re
from dataclasses import dataclass

from balancerd.errors import ImportSourceError
from balancerd.importing.source import Firmware, SourceCdrom, SourceDisk, SourceGuest, SourceNic

MIB = 1024 * 1024
BUSES = ("scsi", "sata", "nvme", "ide")
"""The buses whose devices are listed, in the order disks and CD-ROMs are listed (then controller, unit)."""
FIX_LINE = 'every line of a .vmx is key = "value", a # comment or blank; check that the file was copied whole'
FIX_BOOL = 'write "TRUE" or "FALSE"'
DISK_TYPES = frozenset({"", "disk", "plaindisk", "scsi-harddisk", "ata-harddisk"})
CDROM_TYPES = frozenset({"cdrom-image", "cdrom-raw", "atapi-cdrom"})
REFUSED_TYPES = {
    "rawdisk": "a physical disk of the VMware host (raw disk)",
    "scsi-passthru": "a SCSI device of the VMware host passed through",
}
DEFAULT_NIC_MODEL = "e1000"
_SLOT = re.compile(r"(?P<bus>scsi|sata|nvme|ide)(?P<controller>\d+):(?P<unit>\d+)\.present")
_NIC = re.compile(r"ethernet(?P<n>\d+)\.present")
_KEY = re.compile(r'[^\s"=#]+')
_ESCAPE = re.compile(r"\|([0-9A-Fa-f]{2})")
_MAC = re.compile(r"[0-9a-f]{2}(:[0-9a-f]{2}){5}")
_ENCODING = re.compile(rb'^[ \t]*\.encoding[ \t]*=[ \t]*"([^"\r\n]*)"', re.IGNORECASE | re.MULTILINE)


@dataclass(frozen=True, slots=True)
class Entry:
    """One ``key = "value"`` line: the value without quotes and escapes, and the line it is on."""

    value: str
    line: int


Entries = dict[str, Entry]
"""Every key of a file, lower-cased, with its last value."""


@dataclass(frozen=True, slots=True)
class Slot:
    """Where a device sits: bus (``scsi``, ``sata``, ``nvme``, ``ide``), controller number and unit."""

    bus: str
    controller: int
    unit: int

    @property
    def name(self) -> str:
        """The slot as VMware names it (``scsi0:1``), the prefix of the device's keys."""
        return f"{self.bus}{self.controller}:{self.unit}"

    def order(self) -> tuple[int, int, int]:
        """The listing order: :data:`BUSES`, then controller, then unit."""
        return BUSES.index(self.bus), self.controller, self.unit


def decode(data: bytes, path: str = "<vmx>") -> str:
    """The text of a ``.vmx`` file in the encoding its ``.encoding`` line declares (UTF-8 when it declares none;
    Windows hosts write ``windows-1252`` or ``Shift_JIS``, for example)."""
    name, line = _declared_encoding(data)
    try:
        codec = codecs.lookup(name).name
    except LookupError as exc:
        raise ImportSourceError(path, f".encoding: got {name!r}, which Python does not know",
                                'use a known name such as "UTF-8" or "windows-1252"', line) from exc
    try:
        return data.decode("utf-8-sig" if codec == "utf-8" else codec)
    except UnicodeDecodeError as exc:
        raise ImportSourceError(path, f"the file is not valid {name} (at byte offset {exc.start})",
                                "set .encoding to the encoding the file is written in", line) from exc


def parse(text: str, path: str = "<vmx>") -> SourceGuest:
    """The guest a ``.vmx`` describes; ``path`` names the file in messages (its disks are relative to it)."""
    entries = read_entries(text, path)
    memory_bytes = _memory(entries, path) * MIB
    vcpus, sockets, cores = _cpu(entries, path)
    disks, cdroms = _drives(entries, path)
    return SourceGuest(format="vmx", name=_name(entries, path), memory_bytes=memory_bytes,
                       vcpus=vcpus, firmware=_firmware(entries), disks=disks, cdroms=cdroms,
                       nics=_nics(entries, path), sockets=sockets, cores_per_socket=cores,
                       guest_os=_value(entries, "guestos"))


def read_entries(text: str, path: str) -> Entries:
    """Every ``key = "value"`` line of ``text``, keys lower-cased, the last of a repeated key kept."""
    entries: Entries = {}
    for number, line in enumerate(text.removeprefix("\ufeff").split("\n"), start=1):
        stripped = line.strip()
        if stripped and not stripped.startswith("#"):
            key, value = _key_value(stripped, path, number)
            entries[key.lower()] = Entry(value, number)
    return entries


def _key_value(line: str, path: str, number: int) -> tuple[str, str]:
    """The key and the value of one line that is not blank or a comment."""
    key, equals, raw = line.partition("=")
    key = key.strip()
    if not equals or not _KEY.fullmatch(key):
        raise ImportSourceError(path, f"{line!r} is not key = \"value\"", FIX_LINE, number)
    return key, _ESCAPE.sub(lambda found: chr(int(found[1], 16)), _unquote(raw.strip(), path, number))


def _unquote(raw: str, path: str, number: int) -> str:
    """A value without its quotes; an unquoted value (some tools write them) is taken as it is."""
    if not raw.startswith('"'):
        return raw
    value, quote, rest = raw[1:].partition('"')
    if not quote:
        raise ImportSourceError(path, f"the value {raw!r} has no closing quote", FIX_LINE, number)
    if rest.strip() and not rest.strip().startswith("#"):
        raise ImportSourceError(path, f"{rest.strip()!r} follows the closing quote of the value", FIX_LINE, number)
    return value


def _declared_encoding(data: bytes) -> tuple[str, int | None]:
    """The encoding a ``.encoding`` line names, and that line's number; UTF-8 and None without one."""
    found = _ENCODING.search(data)
    if found is None:
        return "UTF-8", None
    return found[1].decode("ascii", "replace"), data.count(b"\n", 0, found.start()) + 1


def _value(entries: Entries, key: str, default: str = "") -> str:
    """The value of ``key`` (lower case), or ``default`` when the file does not have it."""
    entry = entries.get(key)
    return default if entry is None else entry.value


def _positive(entries: Entries, key: str, path: str, fix: str, default: int | None = None) -> int:
    """The positive whole number ``key`` holds; ``default`` when it is missing (an error when that is None)."""
    entry = entries.get(key.lower())
    if entry is None and default is not None:
        return default
    if entry is None:
        raise ImportSourceError(path, f"{key} is missing", fix)
    if not entry.value.strip().isdecimal() or int(entry.value) <= 0:
        raise ImportSourceError(path, f"{key}: got {entry.value!r}", fix, entry.line)
    return int(entry.value)


def _flag(entries: Entries, key: str, path: str, default: bool = False) -> bool:
    """A ``"TRUE"`` / ``"FALSE"`` value (any case); ``default`` when the key is missing."""
    entry = entries.get(key)
    if entry is None:
        return default
    if entry.value.lower() not in ("true", "false"):
        raise ImportSourceError(path, f"{key}: got {entry.value!r}", FIX_BOOL, entry.line)
    return entry.value.lower() == "true"


def _name(entries: Entries, path: str) -> str:
    """``displayName``; without one, the file's name without ``.vmx`` (as virt-v2v does)."""
    name = _value(entries, "displayname").strip()
    return name or re.split(r"[\\/]", path)[-1].removesuffix(".vmx")


def _memory(entries: Entries, path: str) -> int:
    """``memsize`` in MiB. VMware would start a guest without one with 32 MiB, surely not what it had."""
    return _positive(entries, "memsize", path, 'a positive whole number of MiB, e.g. memsize = "4096"')


def _cpu(entries: Entries, path: str) -> tuple[int, int, int]:
    """vCPUs (``numvcpus``, 1 when missing), sockets and cores per socket (0, 0 without coresPerSocket)."""
    vcpus = _positive(entries, "numvcpus", path, 'a positive whole number, e.g. numvcpus = "2"', default=1)
    cores = _positive(entries, "cpuid.coresPerSocket", path, "a positive whole number that divides numvcpus", 0)
    if cores == 0:
        return vcpus, 0, 0
    if vcpus % cores:
        line = entries["cpuid.corespersocket"].line
        raise ImportSourceError(path, f"cpuid.coresPerSocket: {cores} does not divide numvcpus {vcpus}",
                                "VMware needs numvcpus to be a multiple of cpuid.coresPerSocket", line)
    return vcpus, vcpus // cores, cores


def _firmware(entries: Entries) -> Firmware:
    """``firmware = "efi"`` is UEFI; anything else (``"bios"``, nothing) is BIOS."""
    return "uefi" if _value(entries, "firmware").lower() == "efi" else "bios"


def _drives(entries: Entries, path: str) -> tuple[tuple[SourceDisk, ...], tuple[SourceCdrom, ...]]:
    """The present disks and CD-ROMs, each in :meth:`Slot.order`, the ``bios.hddOrder`` disk first."""
    slots = sorted(_slots(entries, path), key=Slot.order)
    drives = [(slot, _drive(entries, slot, path)) for slot in slots]
    disks = [(slot, drive) for slot, drive in drives if isinstance(drive, SourceDisk)]
    if not disks:
        raise _no_disk(entries, path)
    first = _value(entries, "bios.hddorder").split(",")[0].strip().lower()
    disks.sort(key=lambda pair: pair[0].name != first)
    return tuple(disk for _, disk in disks), tuple(drive for _, drive in drives if isinstance(drive, SourceCdrom))


def _slots(entries: Entries, path: str) -> list[Slot]:
    """The slots whose device and controller are both present."""
    slots = [_slot(found) for key in entries if (found := _SLOT.fullmatch(key))]
    return [slot for slot in slots if _flag(entries, f"{slot.name}.present", path)
            and _controller_present(entries, slot, path)]


def _slot(found: re.Match[str]) -> Slot:
    """The slot a matched ``<bus><controller>:<unit>.present`` key names."""
    return Slot(found["bus"], int(found["controller"]), int(found["unit"]))


def _controller_present(entries: Entries, slot: Slot, path: str) -> bool:
    """Whether ``slot``'s controller is present: ``scsiN``, ``sataN`` and ``nvmeN`` say so with ``.present``;
    the two IDE channels are built in and have no such key (unless one is switched off)."""
    return _flag(entries, f"{slot.bus}{slot.controller}.present", path, default=slot.bus == "ide")


def _drive(entries: Entries, slot: Slot, path: str) -> SourceDisk | SourceCdrom:
    """The disk or CD-ROM present in ``slot``, by its ``deviceType``."""
    kind = _value(entries, f"{slot.name}.devicetype").lower()
    file = _value(entries, f"{slot.name}.filename")
    if kind in CDROM_TYPES:
        image = file if kind == "cdrom-image" and file != "emptyBackingString" else ""
        return SourceCdrom(bus=slot.bus, file=image)
    if kind not in DISK_TYPES:
        raise _unknown_device(entries, slot, kind, path)
    if not file.strip():
        raise ImportSourceError(path, f"the disk {slot.name} has no fileName",
                                f'add {slot.name}.fileName = "<disk>.vmdk", or set {slot.name}.present = "FALSE"',
                                entries[f"{slot.name}.present"].line)
    return SourceDisk(bus=slot.bus, file=file, format=_disk_format(file), controller=_controller(entries, slot))


def _unknown_device(entries: Entries, slot: Slot, kind: str, path: str) -> ImportSourceError:
    """The error for a device that is neither a disk nor a CD-ROM (a pass-through device, a raw disk, ...)."""
    line = entries[f"{slot.name}.devicetype"].line
    known = ", ".join(sorted((DISK_TYPES | CDROM_TYPES) - {""}))
    what = REFUSED_TYPES.get(kind, f"the device type {kind!r}, which balancerd does not know ({known})")
    return ImportSourceError(path, f"{slot.name} is {what}",
                             f'remove it from the VM (or set {slot.name}.present = "FALSE") and export again', line)


def _no_disk(entries: Entries, path: str) -> ImportSourceError:
    """The error for a file without a disk, naming a device that is left out because its controller is not."""
    for key, entry in entries.items():
        found = _SLOT.fullmatch(key)
        if found and _flag(entries, key, path) and not _controller_present(entries, _slot(found), path):
            slot = _slot(found)
            return ImportSourceError(path, f"no disk is present: {slot.name} is on {slot.bus}{slot.controller}, "
                                     f"which is not present", f'set {slot.bus}{slot.controller}.present = "TRUE" '
                                     "if the disk belongs to the guest", entry.line)
    return ImportSourceError(path, "no disk is present", 'a guest needs at least one disk, e.g. scsi0:0.present = '
                             '"TRUE" with scsi0:0.fileName = "<disk>.vmdk"; check that the export is complete')


def _disk_format(file: str) -> str:
    """The format a disk's extension says: ``vmdk`` (also for the old ``.dsk`` and for no extension) or the
    extension itself; qemu-img's reading replaces it when it measures the file."""
    base = re.split(r"[\\/]", file)[-1]
    extension = base.rpartition(".")[2].lower() if "." in base else ""
    return "vmdk" if extension in ("", "vmdk", "dsk") else extension


def _controller(entries: Entries, slot: Slot) -> str:
    """The controller model: ``scsiN.virtualDev`` for SCSI (empty when not written: VMware then picks one by
    guest OS), ``ahci``, ``nvme`` or ``ide`` for the others."""
    if slot.bus == "scsi":
        return _value(entries, f"scsi{slot.controller}.virtualdev").lower()
    return {"sata": "ahci", "nvme": "nvme", "ide": "ide"}[slot.bus]


def _nics(entries: Entries, path: str) -> tuple[SourceNic, ...]:
    """The present network adapters, by number (``ethernet0``, ``ethernet1``, ...)."""
    numbers = sorted(int(found["n"]) for key in entries if (found := _NIC.fullmatch(key)))
    return tuple(_nic(entries, f"ethernet{n}", path) for n in numbers if _flag(entries, f"ethernet{n}.present", path))


def _nic(entries: Entries, prefix: str, path: str) -> SourceNic:
    """One adapter: its network, its MAC and its model (``virtualDev``, ``e1000`` when not written)."""
    model = _value(entries, f"{prefix}.virtualdev").lower() or DEFAULT_NIC_MODEL
    return SourceNic(network=_network(entries, prefix), mac=_mac(entries, prefix, path), model=model)


def _network(entries: Entries, prefix: str) -> str:
    """The port group (``networkName``; a distributed switch's ``dvs.portgroupId`` on ESXi), else the
    Workstation network: ``vnet`` (``VMnet2``) or ``connectionType`` (``bridged``, the default, ``nat``, ...)."""
    for key in ("networkname", "dvs.portgroupid", "vnet", "connectiontype"):
        if value := _value(entries, f"{prefix}.{key}").strip():
            return value
    return "bridged"


def _mac(entries: Entries, prefix: str, path: str) -> str | None:
    """``address`` when ``addressType`` is ``static``, else ``generatedAddress`` (``generated``, ``vpx``),
    else None; lower case with colons."""
    static = _value(entries, f"{prefix}.addresstype").lower() == "static"
    entry = entries.get(f"{prefix}.address" if static else f"{prefix}.generatedaddress")
    if entry is None and static:
        raise ImportSourceError(path, f'{prefix}.addressType is "static" but {prefix}.address is missing',
                                f'add {prefix}.address = "00:50:56:xx:xx:xx"', entries[f"{prefix}.addresstype"].line)
    if entry is None or not entry.value.strip():
        return None
    mac = entry.value.strip().lower().replace("-", ":")
    if not _MAC.fullmatch(mac):
        raise ImportSourceError(path, f"{prefix}: the MAC address {entry.value!r} is not six hex pairs",
                                'write it as "00:50:56:01:02:03"', entry.line)
    return mac
