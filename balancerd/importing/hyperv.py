"""Hyper-V guests: a ``.vhdx`` (or ``.vhd``) disk plus a small TOML spec the operator writes beside it.

Hyper-V's own configuration (``.vmcx``, with ``.vmrs`` runtime state and ``.vmgs`` guest state) is binary and
undocumented, so balancerd does not read it: :func:`refuse_vmcx` is the error the import command's source
reader (:mod:`balancerd.importing.reading`) raises when it is given one. For ``balancerd import web1.vhdx``
the reader takes the spec from ``--spec FILE`` or from :func:`default_spec_path` (``web1.toml`` beside the
disk), reads it and calls :func:`parse_spec`, which returns the
:class:`~balancerd.importing.source.SourceGuest` the mapping, the checks and ``--dry-run --json`` read.
Pure: no file is opened here. A spec::

    name = "web1"            # default: the disk's name without its extension
    memory_mib = 2048
    vcpus = 2                # default 1
    firmware = "uefi"        # or generation = 2; "bios" / generation = 1 (Hyper-V's default) when neither
    disk_bus = "scsi"        # default: scsi for generation 2, ide for generation 1
    [[nics]]
    switch = "External"      # the Hyper-V virtual switch
    mac = "00:15:5d:01:02:03"   # optional; 00155D010203 and 00-15-5D-01-02-03 are read too
    model = "netvsc"         # optional: netvsc (synthetic, the default) or legacy (the emulated adapter)
    [[disks]]                # optional data disks beside the main one
    file = "data.vhdx"
    bus = "scsi"             # default: disk_bus

``cores_per_socket`` and ``guest_os`` are read too. Every problem raises
:class:`~balancerd.errors.ImportSourceError` naming the spec, the line where it can be found, the key, the
value and what is allowed.
"""

from __future__ import annotations

import re
import tomllib
from pathlib import Path, PurePath

from balancerd.errors import ImportSourceError
from balancerd.importing.source import Firmware, SourceDisk, SourceGuest, SourceNic

MIB = 1024 * 1024
KEYS = ("name", "memory_mib", "vcpus", "cores_per_socket", "firmware", "generation", "disk_bus", "guest_os",
        "nics", "disks")
NIC_KEYS = ("switch", "mac", "model")
DISK_KEYS = ("file", "bus")
FORMATS = {".vhdx": "vhdx", ".vhd": "vhd"}
FIRMWARE_OF_GENERATION: dict[int, Firmware] = {1: "bios", 2: "uefi"}
BUSES = ("scsi", "ide")
CONTROLLERS = {"scsi": "storvsc", "ide": "ide"}
"""The source controller of each bus: Hyper-V's synthetic SCSI controller (storvsc) or the emulated IDE one."""
NIC_MODELS = ("netvsc", "legacy")
EXAMPLE = 'memory_mib = 2048\nvcpus = 2\ngeneration = 2\n[[nics]]\nswitch = "External"'
_MAC = re.compile(r"[0-9A-Fa-f]{2}(?P<sep>[:-]?)[0-9A-Fa-f]{2}(?:(?P=sep)[0-9A-Fa-f]{2}){4}")
_TOML_LINE = re.compile(r"at line (\d+)")
_HEADER = re.compile(r"\[\[?\s*([A-Za-z0-9_.-]+)\s*\]\]?")

Table = dict[str, object]


class _Spec:
    """A loaded spec and what its messages need: the file's path and text (to find a key's line)."""

    def __init__(self, text: str, path: str) -> None:
        self.text = text
        self.path = path
        self.data = _load(text, path)

    def error(self, key: str, value: object, allowed: str, where: tuple[str, int] | None = None) -> ImportSourceError:
        """The error for ``key`` (in the ``where`` = (table, index) ``[[table]]``) holding ``value`` (None:
        the key is missing, TOML having no null)."""
        label = key if where is None else f"{where[0]} #{where[1] + 1} {key}"
        line = line_of(self.text, key, *(where or ("", 0)))
        problem = f"{label} is missing" if value is None else f"{label}: got {value!r}"
        return ImportSourceError(self.path, problem, allowed, line)


def default_spec_path(disk: Path) -> Path:
    """Where the spec of ``disk`` is when ``--spec`` is not given: ``<disk stem>.toml`` beside it."""
    return disk.with_suffix(".toml")


def refuse_vmcx(path: str) -> ImportSourceError:
    """The error for a Hyper-V configuration file (``.vmcx``; ``.vmrs``, ``.vmgs`` state): what to give instead."""
    suffix = PurePath(path).suffix.lower()
    what = suffix if suffix in (".vmcx", ".vmrs", ".vmgs") else ".vmcx"
    fix = ("export the VM (Export-VM, or Hyper-V Manager > Export), then give balancerd the .vhdx from the export's "
           "'Virtual Hard Disks' folder with a spec (--spec FILE, or <disk name>.toml beside the disk), e.g.\n"
           + EXAMPLE)
    return ImportSourceError(path, f"Hyper-V's {what} is a binary format balancerd cannot read", fix)


def parse_spec(text: str, path: str, disk: str) -> SourceGuest:
    """The guest ``disk`` (the main disk's file name, relative to the spec's folder) and the spec describe."""
    spec = _Spec(text, path)
    _check_keys(spec, spec.data, KEYS)
    main_format = disk_format(disk)
    firmware = _firmware(spec, main_format)
    bus = _disk_bus(spec, firmware)
    main = SourceDisk(bus=bus, file=disk, format=main_format, controller=CONTROLLERS[bus])
    vcpus, sockets, cores = _cpu(spec)
    return SourceGuest(format="vhdx" if main_format == "vhdx" else "vhd", name=_name(spec, disk),
                       memory_bytes=_positive(spec, "memory_mib", "a positive integer of MiB") * MIB,
                       vcpus=vcpus, firmware=firmware, disks=(main, *_data_disks(spec, main, firmware)),
                       nics=_nics(spec), sockets=sockets, cores_per_socket=cores, guest_os=_guest_os(spec))


def disk_format(disk: str) -> str:
    """``vhdx`` or ``vhd``, from the disk's extension."""
    found = FORMATS.get(PurePath(disk).suffix.lower())
    if found is None:
        raise ImportSourceError(disk, "a Hyper-V disk is a .vhdx or a .vhd",
                                "give the .vhdx (or .vhd) from the export's 'Virtual Hard Disks' folder")
    return found


def line_of(text: str, key: str, table: str = "", index: int = 0) -> int | None:
    """The line where ``key = ...`` is written at the top of ``text`` (``table`` empty) or in its ``index``-th
    ``[table]`` / ``[[table]]``; None when it is not written so (inline tables, a missing key)."""
    current, seen = "", -1
    for number, line in enumerate(text.split("\n"), start=1):
        header = _HEADER.match(line.strip())
        if header is not None:
            current = header[1]
            seen += current == table
        elif current == table and (not table or seen == index) and re.match(rf'\s*"?{re.escape(key)}"?\s*=', line):
            return number
    return None


def _load(text: str, path: str) -> Table:
    """The spec's tables; a TOML syntax error names its line."""
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        found = _TOML_LINE.search(str(exc))
        raise ImportSourceError(path, f"not valid TOML: {exc}", "see https://toml.io for the syntax; a spec is "
                                "key = value lines and [[nics]] / [[disks]] tables",
                                int(found[1]) if found else None) from exc


def _check_keys(spec: _Spec, table: Table, allowed: tuple[str, ...], where: tuple[str, int] | None = None) -> None:
    """An error for the first key of ``table`` that is not ``allowed``."""
    for key in table:
        if key not in allowed:
            label = "the spec" if where is None else f"{where[0]} #{where[1] + 1}"
            line = line_of(spec.text, key, *(where or ("", 0)))
            raise ImportSourceError(spec.path, f"{label} has the unknown key {key!r}",
                                    f"the keys are {', '.join(allowed)}", line)


def _positive(spec: _Spec, key: str, allowed: str, default: int | None = None) -> int:
    """The positive integer ``key`` holds; ``default`` when missing (an error when that is None)."""
    value = spec.data.get(key, default)
    if not isinstance(value, int) or isinstance(value, bool) or value <= 0:
        raise spec.error(key, value, allowed)
    return value


def _name(spec: _Spec, disk: str) -> str:
    """``name``; without one, the disk's file name without its extension."""
    name = spec.data.get("name", PurePath(disk).stem)
    if not isinstance(name, str) or not name.strip():
        raise spec.error("name", name, "the guest's name, a non-empty string")
    return name.strip()


def _guest_os(spec: _Spec) -> str:
    """``guest_os``, free text (e.g. ``"windows2019"``, ``"ubuntu22.04"``); empty when not given."""
    guest_os = spec.data.get("guest_os", "")
    if not isinstance(guest_os, str):
        raise spec.error("guest_os", guest_os, "a string naming the guest's operating system")
    return guest_os


def _cpu(spec: _Spec) -> tuple[int, int, int]:
    """vCPUs (1 when not given), sockets and cores per socket (0, 0 without ``cores_per_socket``)."""
    vcpus = _positive(spec, "vcpus", "a positive integer", default=1)
    if "cores_per_socket" not in spec.data:
        return vcpus, 0, 0
    cores = _positive(spec, "cores_per_socket", "a positive integer")
    if vcpus % cores:
        raise spec.error("cores_per_socket", cores, f"a positive integer that divides vcpus ({vcpus})")
    return vcpus, vcpus // cores, cores


def _firmware(spec: _Spec, main_format: str) -> Firmware:
    """``firmware``, or the one of ``generation``; they must agree, and generation 2 boots only from a VHDX."""
    generation = _generation(spec)
    firmware = spec.data.get("firmware", generation)
    if firmware not in ("uefi", "bios"):
        raise spec.error("firmware", firmware, '"uefi" (Hyper-V generation 2) or "bios" (generation 1)')
    if "generation" in spec.data and firmware != generation:
        raise spec.error("firmware", firmware, f"generation {spec.data['generation']} is "
                         f"{generation!r}; give one of them, or make them agree")
    if firmware == "uefi" and main_format == "vhd":
        raise spec.error("firmware", firmware, "Hyper-V generation 2 (UEFI) boots only from a .vhdx; "
                         'a .vhd comes from a generation 1 guest: write firmware = "bios"')
    return "uefi" if firmware == "uefi" else "bios"


def _generation(spec: _Spec) -> Firmware:
    """The firmware of ``generation`` (1 = bios, 2 = uefi); generation 1, Hyper-V's default, when not given."""
    generation = spec.data.get("generation", 1)
    if isinstance(generation, int) and not isinstance(generation, bool) and generation in FIRMWARE_OF_GENERATION:
        return FIRMWARE_OF_GENERATION[generation]
    raise spec.error("generation", generation, "1 (BIOS) or 2 (UEFI)")


def _disk_bus(spec: _Spec, firmware: Firmware) -> str:
    """``disk_bus``: scsi or ide; scsi for generation 2 (which has no IDE), ide for generation 1 by default."""
    bus = spec.data.get("disk_bus", "scsi" if firmware == "uefi" else "ide")
    return _bus(spec, "disk_bus", bus, firmware)


def _bus(spec: _Spec, key: str, bus: object, firmware: Firmware, where: tuple[str, int] | None = None) -> str:
    """A bus name, checked: one of :data:`BUSES`, and not ide on generation 2."""
    if bus not in BUSES:
        raise spec.error(key, bus, f"one of {', '.join(BUSES)}", where)
    if bus == "ide" and firmware == "uefi":
        raise spec.error(key, bus, 'Hyper-V generation 2 (UEFI) has no IDE controller: write "scsi"', where)
    return str(bus)


def _tables(spec: _Spec, key: str, allowed: tuple[str, ...]) -> list[Table]:
    """The ``[[key]]`` tables of the spec (none when not given), each with only ``allowed`` keys."""
    tables = spec.data.get(key, [])
    if not isinstance(tables, list) or not all(isinstance(table, dict) for table in tables):
        raise spec.error(key, tables, f"[[{key}]] tables with the keys {', '.join(allowed)}")
    for index, table in enumerate(tables):
        _check_keys(spec, table, allowed, (key, index))
    return tables


def _text(spec: _Spec, table: Table, key: str, where: tuple[str, int], allowed: str) -> str:
    """The non-empty string ``key`` of one ``[[table]]``."""
    value = table.get(key)
    if not isinstance(value, str) or not value.strip():
        raise spec.error(key, value, allowed, where)
    return value.strip()


def _data_disks(spec: _Spec, main: SourceDisk, firmware: Firmware) -> tuple[SourceDisk, ...]:
    """The ``[[disks]]`` beside the main one."""
    return tuple(_data_disk(spec, table, ("disks", index), main, firmware)
                 for index, table in enumerate(_tables(spec, "disks", DISK_KEYS)))


def _data_disk(spec: _Spec, table: Table, where: tuple[str, int], main: SourceDisk, firmware: Firmware) -> SourceDisk:
    """One data disk: its file (a .vhdx, or a .vhd on generation 1) and its bus (``disk_bus`` by default)."""
    file = _text(spec, table, "file", where, "the disk's file name relative to the spec, a .vhdx or .vhd")
    if file == main.file or PurePath(file).suffix.lower() not in FORMATS:
        raise spec.error("file", file, "a .vhdx or .vhd other than the main disk", where)
    if firmware == "uefi" and PurePath(file).suffix.lower() == ".vhd":
        raise spec.error("file", file, "Hyper-V generation 2 (UEFI) uses only .vhdx disks", where)
    bus = _bus(spec, "bus", table.get("bus", main.bus), firmware, where)
    return SourceDisk(bus=bus, file=file, format=disk_format(file), controller=CONTROLLERS[bus])


def _nics(spec: _Spec) -> tuple[SourceNic, ...]:
    """The ``[[nics]]``, in the order they are written."""
    return tuple(_nic(spec, table, ("nics", index)) for index, table in enumerate(_tables(spec, "nics", NIC_KEYS)))


def _nic(spec: _Spec, table: Table, where: tuple[str, int]) -> SourceNic:
    """One adapter: its switch, its MAC (None when not given) and its model (netvsc by default)."""
    switch = _text(spec, table, "switch", where, "the name of the Hyper-V virtual switch, e.g. \"External\"")
    model = table.get("model", "netvsc")
    if model not in NIC_MODELS:
        raise spec.error("model", model, f"one of {', '.join(NIC_MODELS)}", where)
    mac = table.get("mac")
    return SourceNic(network=switch, mac=None if mac is None else _mac(spec, mac, where), model=str(model))


def _mac(spec: _Spec, value: object, where: tuple[str, int]) -> str:
    """A MAC as ``00:15:5d:01:02:03``, from that form, ``00155D010203`` or ``00-15-5D-01-02-03``."""
    if not isinstance(value, str) or not _MAC.fullmatch(value.strip()):
        raise spec.error("mac", value, 'six hex pairs: "00:15:5d:01:02:03", "00-15-5D-01-02-03" or "00155D010203"',
                         where)
    digits = re.sub(r"[:-]", "", value.strip()).lower()
    return ":".join(digits[i:i + 2] for i in range(0, 12, 2))
