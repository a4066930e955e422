"""Reading an export from disk: which format, the guest it describes, its disk files measured by qemu-img, and
the checks of the source (readable and complete, formats, checksums).

Called by :mod:`balancerd.importing.cli` for every import, ``--dry-run`` included. Malformed descriptors raise
:class:`~balancerd.errors.ImportSourceError` (exit 1, nothing created); problems of the disks (a file missing,
a truncated VMDK, an unsupported format) become failed checks, so that a dry-run shows every problem at once.
An OVA is unpacked into the work directory and its manifest verified before anything is measured; compressed or
chunked OVF disks are made whole there too.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path

from balancerd.backends.base import Check
from balancerd.errors import ImportSourceError
from balancerd.importing import hyperv, ova, ovf, qemuimg, vmx
from balancerd.importing.source import SourceDisk, SourceGuest

SUFFIXES = {".vmx": "vmx", ".ovf": "ovf", ".ova": "ova", ".vhd": "vhd", ".vhdx": "vhdx"}
_QEMU_TO_EXPORT = {"vpc": "vhd"}
"""qemu-img's format names where exports call the format otherwise."""


@dataclass(frozen=True, slots=True)
class Export:
    """One export read: the guest (disks measured where their files could be read), the file each disk is read
    from (None: missing), qemu-img's format name of each, and the source checks."""

    path: Path
    guest: SourceGuest
    files: tuple[Path | None, ...]
    formats: tuple[str, ...]
    checks: tuple[Check, ...]


def read(path: Path, work: Path, spec: Path | None = None) -> Export:
    """Read the export at ``path``; ``work`` is this import's scratch directory; ``spec`` the TOML of a
    VHD / VHDX (default: ``<disk stem>.toml`` beside it)."""
    kind = _kind(path)
    guest, folder, verified = _describe(path, kind, work, spec)
    measured = [_measure(disk, _disk_file(folder, disk, work), (folder, work)) for disk in guest.disks]
    disks = tuple(m[0] for m in measured)
    files = tuple(m[1] for m in measured)
    formats = tuple(m[2] for m in measured)
    checks = (*_completeness(guest.disks, measured), _formats(disks, formats), verified)
    return Export(path, dataclasses.replace(guest, disks=disks), files, formats, checks)


def _kind(path: Path) -> str:
    suffix = path.suffix.lower()
    if suffix in (".vmcx", ".vmrs", ".vmgs"):
        raise hyperv.refuse_vmcx(str(path))
    if suffix not in SUFFIXES:
        raise ImportSourceError(path, f"unknown export type {suffix or '(no suffix)'!r}",
                                "give a .vmx, .ova, .ovf, .vhd or .vhdx file")
    if not path.is_file():
        raise ImportSourceError(path, "no such file", "give the path of the exported file")
    return SUFFIXES[suffix]


def _describe(path: Path, kind: str, work: Path, spec: Path | None) -> tuple[SourceGuest, Path, Check]:
    if kind == "vmx":
        return vmx.parse(vmx.decode(path.read_bytes(), str(path)), str(path)), path.parent, _unsigned("VMX")
    if kind in ("vhd", "vhdx"):
        spec_path = spec or hyperv.default_spec_path(path)
        if not spec_path.is_file():
            raise ImportSourceError(spec_path, f"no spec for the {kind.upper()} disk {path.name}",
                                    "write one (name, memory_mib, vcpus, firmware, [[nics]] switch; see README "
                                    "'Importing guests') or pass --spec FILE")
        return hyperv.parse_spec(spec_path.read_text(), str(spec_path), path.name), path.parent, _unsigned(kind)
    descriptor = ova.unpack(path, work / "ova") if kind == "ova" else path
    text = descriptor.read_text(errors="replace")
    guest = ovf.parse(text, str(descriptor))
    unlisted = ova.verify_manifest(descriptor)
    return guest, descriptor.parent, _checksums(descriptor, unlisted)


def _unsigned(kind: str) -> Check:
    return Check("checksums", True, f"a {kind} export carries no manifest: nothing to verify")


def _checksums(descriptor: Path, unlisted: tuple[str, ...]) -> Check:
    if not list(descriptor.parent.glob("*.mf")):
        return Check("checksums", True, "no manifest (.mf) in the package: nothing to verify")
    if unlisted:
        return Check("checksums", True, f"manifest verified; not listed in it: {', '.join(unlisted)}")
    return Check("checksums", True, "every file the manifest lists matches its digest")


def _disk_file(folder: Path, disk: SourceDisk, work: Path) -> Path | None:
    """The one plain file of ``disk``: as named, or joined from its chunks / decompressed into ``work``."""
    if not disk.chunk_size and not disk.compression:
        found = folder / disk.file
        return found if found.is_file() else None
    try:
        return ova.plain_disk(folder, disk, work / "disks")
    except ImportSourceError:
        return None


def _measure(disk: SourceDisk, file: Path | None, folders: tuple[Path, ...]) -> tuple[SourceDisk, Path | None,
                                                                                    str, str]:
    """(the disk with qemu-img's format and virtual size, its file, qemu-img's format, what is wrong or "")."""
    if file is None:
        return disk, None, "", f"{disk.file}: the file is missing"
    try:
        info = qemuimg.info(file)
    except ImportSourceError as exc:
        return disk, file, "", f"{disk.file}: {exc.problem}"
    shown = _QEMU_TO_EXPORT.get(info.format, info.format)
    measured = dataclasses.replace(disk, format=shown, virtual_size_bytes=info.virtual_size_bytes)
    problem = _outside(info, folders) or _contradiction(disk, shown, info) or qemuimg.check(file, info.format)
    return measured, file, info.format, f"{disk.file}: {problem}" if problem else ""


def _outside(info: qemuimg.DiskInfo, folders: tuple[Path, ...]) -> str:
    """Why the disk reads a file outside the export ("" when it does not): an extent or backing file elsewhere
    would copy that host file into the guest."""
    roots = [f.resolve() for f in folders]
    for name in info.files:
        where = Path(name).resolve()
        if not any(where.is_relative_to(root) for root in roots):
            return f"it reads {name}, outside the export (an extent or backing file): refused"
    return ""


def _contradiction(disk: SourceDisk, shown: str, info: qemuimg.DiskInfo) -> str:
    if info.virtual_size_bytes <= 0:
        return "the disk is empty (virtual size 0): copy the export again"
    if disk.format in ("vmdk", "vhdx", "vhd") and shown != disk.format:
        return f"the export says {disk.format}, but qemu-img reads {shown}: the file is not what it should be"
    return ""


def _completeness(disks: tuple[SourceDisk, ...], measured: list[tuple[SourceDisk, Path | None, str, str]]) -> tuple[
        Check, ...]:
    missing = [f"{d.file}: the file is missing" for d, (_, file, _, _) in zip(disks, measured, strict=True)
               if file is None]
    problems = [m[3] for m in measured if m[3]]
    readable = Check("source readable", not missing, "; ".join(missing) or "every disk file is there")
    complete = Check("source complete", not problems,
                     "; ".join(problems) or f"{len(disks)} disk(s) read and checked by qemu-img")
    return readable, complete


def _formats(disks: tuple[SourceDisk, ...], formats: tuple[str, ...]) -> Check:
    odd = [f"{d.file} ({f})" for d, f in zip(disks, formats, strict=True) if f and f not in qemuimg.FORMATS]
    if odd:
        return Check("disk formats", False, f"not a format balancerd converts: {', '.join(odd)}; supported: "
                                            f"{', '.join(qemuimg.FORMATS)}")
    return Check("disk formats", True, ", ".join(sorted({d.format for d in disks if d.format})) or "none read")
