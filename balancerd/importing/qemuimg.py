"""qemu-img, the one tool that reads and writes disk formats here: ``info`` and ``check`` of a source disk, and
``convert`` to the target format with progress.

Called by :mod:`balancerd.importing.reading` (every disk measured, even on ``--dry-run``) and by
:mod:`balancerd.importing.run` (the conversion). qemu-img follows a VMDK descriptor to its extents and a
snapshot delta to its parent, so a disk is whatever chain its file names. Failures become
:class:`~balancerd.errors.ImportSourceError` naming the file and qemu-img's own words.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from balancerd.errors import ImportSourceError

FORMATS = ("vmdk", "vhdx", "vpc", "qcow2", "raw")
"""The source formats qemu-img reads that an export may carry ("vpc" is qemu-img's name for VHD)."""

_NO_CHECK = 63
"""qemu-img check's exit status when the format has no consistency check."""
_PERCENT = re.compile(rb"\((\d+(?:\.\d+)?)/100%\)")


@dataclass(frozen=True, slots=True)
class DiskInfo:
    """What qemu-img reads from one disk file: its format, virtual size, bytes on disk, backing file, and every
    file the disk reads (itself, its VMDK extents, its backing chain), so a caller can refuse one outside the
    export."""

    format: str
    virtual_size_bytes: int
    actual_size_bytes: int
    backing: str | None = None
    files: tuple[str, ...] = ()


def binary() -> str:
    """The qemu-img executable, or an error naming the Debian package."""
    found = shutil.which("qemu-img")
    if found is None:
        raise ImportSourceError("qemu-img", "qemu-img is not installed", "install Debian's qemu-utils")
    return found


def info(path: Path) -> DiskInfo:
    """qemu-img's reading of ``path`` (its format probed; the backing chain followed to its base)."""
    out = _run([binary(), "info", "--backing-chain", "--output=json", "-U", str(path)], path, "cannot read the disk")
    try:
        chain = json.loads(out)
        top = chain[0]
        return DiskInfo(str(top["format"]), int(top["virtual-size"]), int(top.get("actual-size", 0)),
                        top.get("full-backing-filename") or top.get("backing-filename"), _files(chain))
    except (ValueError, KeyError, TypeError, IndexError) as exc:
        raise ImportSourceError(path, f"qemu-img info printed no readable JSON ({exc})",
                                "check the qemu-utils installation") from exc


def _files(chain: list[dict[str, object]]) -> tuple[str, ...]:
    """Every file of a backing chain: each image and each VMDK extent (relative ones beside their image)."""
    found: list[str] = []
    for image in chain:
        name = Path(str(image["filename"]))
        found.append(str(name))
        specific = image.get("format-specific")
        data = specific.get("data", {}) if isinstance(specific, dict) else {}
        for extent in data.get("extents", []) if isinstance(data, dict) else []:
            found.append(str(name.parent / str(extent.get("filename", ""))))
    return tuple(dict.fromkeys(found))


def check(path: Path, fmt: str) -> str:
    """"" when ``path`` is consistent (or its format has no check), else qemu-img's complaint."""
    proc = subprocess.run([binary(), "check", "-U", "-f", fmt, str(path)], capture_output=True, check=False,
                          stdin=subprocess.DEVNULL)
    if proc.returncode in (0, _NO_CHECK):
        return ""
    return _words(proc.stdout + proc.stderr) or f"qemu-img check exit status {proc.returncode}"


def convert(source: Path, fmt: str, dest: Path, dest_fmt: str, progress: Callable[[float], None]) -> None:
    """Convert ``source`` (format ``fmt``) into a new ``dest_fmt`` file ``dest``, calling ``progress`` with the
    fraction done as qemu-img reports it."""
    args = [binary(), "convert", "-p", "-f", fmt, "-O", dest_fmt, str(source), str(dest)]
    with subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL) as proc:
        assert proc.stdout is not None and proc.stderr is not None
        while chunk := os.read(proc.stdout.fileno(), 4096):
            for match in _PERCENT.finditer(chunk):
                progress(float(match.group(1)) / 100.0)
        err = proc.stderr.read()
    if proc.returncode != 0:
        raise ImportSourceError(source, f"qemu-img convert failed: {_words(err)}",
                                "check the disk with `qemu-img check` and the free space of the work directory")


def _run(args: list[str], path: Path, what: str) -> bytes:
    proc = subprocess.run(args, capture_output=True, check=False, stdin=subprocess.DEVNULL)
    if proc.returncode != 0:
        raise ImportSourceError(path, f"{what}: {_words(proc.stderr)}",
                                "give a complete disk file in a format qemu-img reads (vmdk, vhdx, vhd, qcow2, raw)")
    return proc.stdout


def _words(raw: bytes) -> str:
    return " ".join(raw.decode(errors="replace").split())[:400]
