"""The package side of an OVF descriptor: the envelope parsed (DOCTYPE refused), its DiskSection and
References (sizes, compression, chunks, hrefs that stay inside the package), and OVF's numbers and units.

Called by :mod:`balancerd.importing.ovf`, which reads the VirtualSystem's hardware on top of it. Pure: text in,
values out.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import PurePosixPath, PureWindowsPath
from typing import TypeVar

from balancerd.errors import ImportSourceError

OVF1 = "http://schemas.dmtf.org/ovf/envelope/1"
OVF2 = "http://schemas.dmtf.org/ovf/envelope/2"
_ENVELOPES = (OVF1, OVF2)
REEXPORT = "re-export the VM with VMware ovftool or vCenter (File > Export OVF Template)"
_T = TypeVar("_T")
_NAMED_UNITS = {
    "byte": 1, "bytes": 1, "kilobytes": 2**10, "kb": 2**10, "kib": 2**10, "megabytes": 2**20, "mb": 2**20,
    "mib": 2**20, "gigabytes": 2**30, "gb": 2**30, "gib": 2**30, "terabytes": 2**40, "tb": 2**40, "tib": 2**40,
}
_PROGRAMMATIC_UNIT = re.compile(r"bytes?\*(2|10)\^(\d{1,2})")


@dataclass(frozen=True, slots=True)
class Reference:
    """One ``File`` of the descriptor's ``References``: ``href`` relative to the descriptor's folder, ``size`` in
    bytes (0 when not given), ``compression`` ("gzip" or "") and ``chunk_size`` (0 = one file; else the file is
    stored as ``href.000000000``, ``href.000000001``, ...)."""

    file_id: str
    href: str
    size: int = 0
    compression: str = ""
    chunk_size: int = 0


@dataclass(frozen=True, slots=True)
class Envelope:
    """A parsed OVF envelope: its file (for errors), its namespace (1.x or 2.x) and its root."""

    path: str
    ns: str
    root: ET.Element

    def tag(self, name: str) -> str:
        return f"{{{self.ns}}}{name}"

    def attr(self, element: ET.Element, name: str) -> str:
        value = element.get(self.tag(name))
        return (element.get(name, "") if value is None else value).strip()

    def error(self, problem: str, fix: str, line: int | None = None) -> ImportSourceError:
        return ImportSourceError(self.path, problem, fix, line)


@dataclass(frozen=True, slots=True)
class Disk:
    """One Disk of the DiskSection."""

    disk_id: str
    file_ref: str
    capacity_bytes: int
    format_uri: str
    parent_ref: str


def envelope(text: str, path: str) -> Envelope:
    doctype = text.find("<!DOCTYPE")
    if doctype >= 0:
        raise ImportSourceError(path, "the descriptor declares a DOCTYPE, which OVF never needs (entities could "
                                "expand without bound)", "remove the <!DOCTYPE ...> declaration",
                                text.count("\n", 0, doctype) + 1)
    try:
        root = ET.fromstring(text)
    except ET.ParseError as exc:
        raise ImportSourceError(path, f"not well-formed XML ({exc})", "check that the file was copied completely "
                                "and is the .ovf descriptor", exc.position[0]) from exc
    namespace = root.tag[1:].partition("}")[0] if root.tag.startswith("{") else ""
    if namespace not in _ENVELOPES or not root.tag.endswith("}Envelope"):
        raise ImportSourceError(path, f"the root element is {root.tag!r}, not an OVF 1.x or 2.x Envelope "
                                f"({OVF1} or {OVF2})", REEXPORT + " as OVF 1.0 or 2.0")
    return Envelope(path, namespace, root)


def integer(env: Envelope, text: str, what: str, fix: str) -> int:
    try:
        return int(text)
    except ValueError as exc:
        raise env.error(f"{what} {text!r} is not a number", fix) from exc


def unit_bytes(units: str) -> int | None:
    compact = "".join(units.lower().split())
    if compact in _NAMED_UNITS:
        return _NAMED_UNITS[compact]
    match = _PROGRAMMATIC_UNIT.fullmatch(compact)
    return int(match[1]) ** int(match[2]) if match else None


def disks(env: Envelope) -> dict[str, Disk]:
    """The DiskSection's disks by ``ovf:diskId`` (the first of a repeated id)."""
    return _first_by(env, "DiskSection", "Disk", _disk, lambda d: d.disk_id)


def files(env: Envelope) -> dict[str, Reference]:
    """The References' files by ``ovf:id`` (the first of a repeated id), in document order."""
    return _first_by(env, "References", "File", _file, lambda f: f.file_id)


def _first_by(env: Envelope, section: str, child: str, read: Callable[[Envelope, ET.Element], _T],
              key: Callable[[_T], str]) -> dict[str, _T]:
    found: dict[str, _T] = {}
    for element in env.root.iter(env.tag(section)):
        for item in element.findall(env.tag(child)):
            value = read(env, item)
            found.setdefault(key(value), value)
    return found


def _disk(env: Envelope, element: ET.Element) -> Disk:
    disk_id = env.attr(element, "diskId")
    return Disk(disk_id=disk_id, file_ref=env.attr(element, "fileRef"), capacity_bytes=_capacity(env, element),
                 format_uri=env.attr(element, "format"), parent_ref=env.attr(element, "parentRef"))


def _capacity(env: Envelope, element: ET.Element) -> int:
    capacity = env.attr(element, "capacity")
    if not capacity or capacity.startswith("${"):
        return 0  # not given, or an ovf:Property set at deployment: qemu-img measures the file instead
    what = f"the ovf:capacity of disk {env.attr(element, 'diskId')!r}"
    amount = integer(env, capacity, what, "give ovf:capacity as a whole number")
    units = env.attr(element, "capacityAllocationUnits") or "byte"
    unit = unit_bytes(units)
    if unit is None:
        raise env.error(f"{what} is in units {units!r}, which balancerd does not know",
                        "use byte, byte * 2^20 or byte * 2^30")
    return amount * unit


def _files(env: Envelope) -> dict[str, Reference]:
    files: dict[str, Reference] = {}
    for section in env.root.iter(env.tag("References")):
        for element in section.findall(env.tag("File")):
            file = _file(env, element)
            files.setdefault(file.file_id, file)
    return files


def _file(env: Envelope, element: ET.Element) -> Reference:
    file_id = env.attr(element, "id")
    what = f"File {file_id!r}"
    compression = env.attr(element, "compression")
    if compression not in ("", "identity", "gzip"):
        raise env.error(f"{what} has ovf:compression {compression!r}; only gzip is defined by OVF",
                        "re-export without compression or with gzip")
    size = integer(env, env.attr(element, "size") or "0", f"the ovf:size of {what}", "give a number of bytes")
    chunk = integer(env, env.attr(element, "chunkSize") or "0", f"the ovf:chunkSize of {what}",
                     "give a number of bytes")
    return Reference(file_id=file_id, href=_href(env, what, env.attr(element, "href")), size=size,
                     compression="gzip" if compression == "gzip" else "", chunk_size=chunk)


def _href(env: Envelope, what: str, href: str) -> str:
    fix = "keep the package's files beside the descriptor and name them by relative paths"
    if not href or "://" in href:
        raise env.error(f"{what} has ovf:href {href!r}; balancerd imports files of the package, not URLs", fix)
    posix, windows = PurePosixPath(href), PureWindowsPath(href)
    if posix.is_absolute() or windows.is_absolute() or windows.drive or ".." in windows.parts:
        raise env.error(f"{what} has ovf:href {href!r}, which points outside the package's folder", fix)
    return href
