"""virt-v2v as the converter (``balancerd import --converter virt-v2v``): the guest itself made ready for KVM.

Called by :mod:`balancerd.importing.run` in place of one ``qemu-img convert`` per disk, and by
:mod:`balancerd.importing.cli` for the pre-flight check that the tools are installed. Beyond converting the
disks, virt-v2v inspects the guest's OS and changes it: virtio drivers installed in Windows, an initramfs with
the virtio modules built in Linux, VMware tools removed. It only converts an OS it can inspect; a disk with no
recognisable OS is refused by virt-v2v, and the import fails cleanly (``--converter qemu-img`` copies any disk).

virt-v2v reads the source as libvirt XML (``-i libvirtxml``), written here from the export balancerd has read
(every disk's file and qemu-img format, so a VMX, an OVA's unpacked members and a VHDX are one case), and writes
the converted disks into the import's work directory (``-o local -of FORMAT``). balancerd then uploads them and
defines the domain exactly as with qemu-img: one network mapping, one device choice (virtio unless ``--compat``),
one journal and one cleanup. The converted files are found in the XML virt-v2v writes beside them.
libguestfs options come from the environment (``LIBGUESTFS_BACKEND``, ``SUPERMIN_KERNEL``, ...), as for any
libguestfs tool.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import xml.etree.ElementTree as ET
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import structlog

from balancerd.backends.base import Check
from balancerd.errors import ImportSourceError
from balancerd.importing.reading import Export

log = structlog.get_logger("balancerd.import")

NAME = "virt-v2v"
TOOLS = {"virt-v2v": "virt-v2v", "nbdkit": "nbdkit", "nbdcopy": "libnbd-bin"}
"""The executables a libvirtxml conversion runs, and the Debian package of each."""
_STAGE = re.compile(r"^\[\s*\d+(?:\.\d+)?\]\s+(.+)$")
_COPYING = re.compile(r"Copying disk (\d+)/(\d+)")
_PERCENT = re.compile(r"(\d+)% \[")
_KIB = 1024


@dataclass(frozen=True, slots=True)
class Line:
    """One line of virt-v2v's output, read: a stage, a copy's progress (fraction of all disks), or neither."""

    stage: str | None = None
    copied: float | None = None


def check() -> Check:
    """The pre-flight check: every tool of a conversion on PATH."""
    missing = [tool for tool in TOOLS if shutil.which(tool) is None]
    if missing:
        packages = " ".join(sorted({TOOLS[tool] for tool in missing}))
        return Check("converter", False, f"virt-v2v needs {', '.join(missing)}, not installed: apt install "
                                         f"{packages} (or convert with --converter qemu-img)")
    return Check("converter", True, "virt-v2v, nbdkit and nbdcopy installed")


def source_xml(export: Export, name: str) -> str:
    """The libvirt XML virt-v2v reads the guest from: its size, every disk file with its format, its NICs."""
    guest = export.guest
    root = ET.Element("domain", type="kvm")
    ET.SubElement(root, "name").text = name
    ET.SubElement(root, "memory", unit="KiB").text = str(max(1, guest.memory_bytes // _KIB))
    ET.SubElement(root, "vcpu").text = str(guest.vcpus)
    os_el = ET.SubElement(root, "os", {"firmware": "efi"} if guest.firmware == "uefi" else {})
    ET.SubElement(os_el, "type", arch="x86_64").text = "hvm"
    devices = ET.SubElement(root, "devices")
    for index, (path, fmt) in enumerate(zip(export.files, export.formats, strict=True)):
        if path is None:
            raise ImportSourceError(export.path, f"disk {index + 1} has no file", "give the export's disk files")
        disk = ET.SubElement(devices, "disk", type="file", device="disk")
        ET.SubElement(disk, "driver", name="qemu", type=fmt)
        ET.SubElement(disk, "source", file=str(path.resolve()))
        ET.SubElement(disk, "target", dev=f"sd{chr(ord('a') + index)}", bus="scsi")
    for nic in guest.nics:
        el = ET.SubElement(devices, "interface", type="network")
        ET.SubElement(el, "source", network=nic.network)
        if nic.mac:
            ET.SubElement(el, "mac", address=nic.mac)
    ET.indent(root)
    return ET.tostring(root, encoding="unicode")


def command(source: Path, out_dir: Path, name: str, disk_format: str) -> list[str]:
    """The virt-v2v command line: libvirt XML in, ``disk_format`` files named after ``name`` in ``out_dir``."""
    return [NAME, "-i", "libvirtxml", str(source), "-o", "local", "-os", str(out_dir), "-of", disk_format,
            "-on", name]


def outputs(xml_text: str, out_dir: Path) -> tuple[Path, ...]:
    """The converted disk files named by the XML virt-v2v wrote, in the source's disk order."""
    try:
        root = ET.fromstring(xml_text)
    except ET.ParseError as exc:
        raise ImportSourceError(out_dir, f"virt-v2v wrote unreadable XML ({exc})", "check the virt-v2v "
                                "installation") from exc
    files = [s.get("file", "") for d in root.iter("disk") if d.get("device") == "disk"
             for s in d.findall("source")]
    return tuple(Path(f) if Path(f).is_absolute() else out_dir / f for f in files if f)


def read_line(text: str, copying: tuple[int, int] | None) -> Line:
    """What one output line says; ``copying`` is (disk, disks) of the copy under way, if one is."""
    stage = _STAGE.match(text)
    if stage:
        return Line(stage=stage.group(1).strip())
    percent = _PERCENT.findall(text)
    if copying is not None and percent:
        disk, disks = copying
        return Line(copied=(disk - 1 + int(percent[-1]) / 100) / disks)
    return Line()


def convert(export: Export, name: str, work: Path, disk_format: str,
            progress: Callable[[Line], None]) -> tuple[Path, ...]:
    """Run virt-v2v over ``export``; the converted disk files in ``work``, one per source disk, in order."""
    out_dir = work / "v2v"
    out_dir.mkdir(exist_ok=True)
    source = work / f"{name}.v2v-source.xml"
    source.write_text(source_xml(export, name))
    said = _run(command(source, out_dir, name, disk_format), export.path, progress)
    written = out_dir / f"{name}.xml"
    if not written.is_file():
        raise ImportSourceError(export.path, f"virt-v2v wrote no {written.name}: {said}", "run virt-v2v -v -x "
                                "by hand to see why")
    found = outputs(written.read_text(), out_dir)
    if len(found) != len(export.files) or not all(f.is_file() for f in found):
        raise ImportSourceError(export.path, f"virt-v2v wrote {len(found)} disk(s) for {len(export.files)}",
                                "run virt-v2v -v -x by hand to see why")
    return found


def _run(args: list[str], path: Path, progress: Callable[[Line], None]) -> str:
    """Run virt-v2v, feeding each output line to ``progress``; its error lines when it fails."""
    tail: deque[str] = deque(maxlen=40)
    with subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL) as proc:
        assert proc.stdout is not None
        copying: tuple[int, int] | None = None
        for text in _lines(proc.stdout.fileno()):
            copying = _copying(text, copying)
            tail.append(text)
            if text.startswith(f"{NAME}: warning:"):
                log.warning("virt-v2v", said=text)
            progress(read_line(text, copying))
    if proc.returncode != 0:
        raise ImportSourceError(path, f"virt-v2v failed (exit {proc.returncode}): {_errors(tail)}",
                                "virt-v2v converts only a guest OS it can inspect; run it by hand with -v -x "
                                "to see why, or import with --converter qemu-img (disks copied, guest unchanged)")
    return _errors(tail)


def _copying(text: str, current: tuple[int, int] | None) -> tuple[int, int] | None:
    found = _COPYING.search(text)
    return (int(found.group(1)), int(found.group(2))) if found else current


def _lines(fd: int) -> Iterator[str]:
    """Lines of ``fd`` split at newlines and carriage returns (nbdcopy redraws its bar with ``\\r``)."""
    pending = b""
    while chunk := os.read(fd, 4096):
        pending += chunk
        *done, pending = re.split(rb"[\r\n]", pending)
        yield from (line.decode(errors="replace").strip() for line in done if line.strip())
    if pending.strip():
        yield pending.decode(errors="replace").strip()


def _errors(tail: deque[str]) -> str:
    """virt-v2v's error lines from the end of its output, else its last lines."""
    errors = [line for line in tail if "error:" in line]
    return " ".join(errors or list(tail)[-3:])[:600]
