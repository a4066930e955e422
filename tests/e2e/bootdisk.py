"""A raw disk image that SeaBIOS boots from its disk: kernel + initrd loaded by SYSLINUX, no ``<kernel>`` in the
domain XML. Stands in for a VMware / OVA guest's disk in the e2e import test (tests/e2e/test_import_lab.py calls
:func:`build`); proved bootable in the lab by tests/e2e/test_bootdisk.py.

Layout (no loop mounts, nothing mounted): an MBR with syslinux's ``mbr.bin`` boot code and one bootable FAT16
partition from sector 2048 (1 MiB) to the end; ``mkfs.vfat --offset`` makes the file system inside the file,
``syslinux --install --offset BYTES`` writes its boot sector plus ``ldlinux.sys`` and ``ldlinux.c32``, and
``mcopy -i IMAGE@@BYTES`` copies ``vmlinuz``, ``initrd.img`` and ``syslinux.cfg``. Tools come from the Debian
packages fdisk, dosfstools, syslinux, syslinux-common and mtools (``scripts/install-lab-deps`` installs them).
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

SECTOR = 512
START_SECTOR = 2048
"""First sector of the FAT partition (1 MiB, the usual alignment)."""
OVERHEAD_MIB = 3
"""Room the image needs besides the kernel and initrd: 1 MiB before the partition, FATs, ldlinux.*."""
MBR_BIN = Path("/usr/lib/syslinux/mbr/mbr.bin")
MBR_CODE_BYTES = 440
"""Boot code size: the disk signature and partition table follow at byte 440."""
TOOLS = {"sfdisk": "fdisk", "mkfs.vfat": "dosfstools", "syslinux": "syslinux", "mcopy": "mtools"}
"""Command -> Debian package that provides it."""
SEARCH_PATH = os.pathsep.join([os.environ.get("PATH", ""), "/usr/sbin", "/sbin"])
INSTALL_HINT = "apt-get install -y --no-install-recommends {package} (or run scripts/install-lab-deps)"
CONFIG = """SERIAL 0 115200
PROMPT 0
TIMEOUT 0
DEFAULT disk
LABEL disk
  LINUX /vmlinuz
  INITRD /initrd.img
  APPEND {cmdline}
"""


class BootDiskError(RuntimeError):
    """A tool or input is missing, or a step failed (the message names the tool and its output)."""


def build(out: Path, kernel: Path, initrd: Path, cmdline: str = "console=ttyS0 quiet panic=-1",
          size_mib: int = 48) -> Path:
    """Write a bootable raw image of ``size_mib`` MiB to ``out`` (replaced atomically) and return ``out``."""
    tools = _tools()
    for item in (kernel, initrd):
        if not item.is_file():
            raise BootDiskError(f"{item} is not a file")
    if not MBR_BIN.is_file():
        raise BootDiskError(f"{MBR_BIN} missing: {INSTALL_HINT.format(package='syslinux-common')}")
    if "\n" in cmdline:
        raise BootDiskError(f"the kernel command line must be one line, not {cmdline!r}")
    payload_mib = (kernel.stat().st_size + initrd.stat().st_size) / 2**20
    if size_mib < payload_mib + OVERHEAD_MIB:
        raise BootDiskError(f"{size_mib} MiB is too small for {payload_mib:.1f} MiB of kernel + initrd")
    offset = START_SECTOR * SECTOR
    fs_kib = (size_mib * 2**20 - offset) // 1024
    tmp = out.with_name(out.name + ".tmp")
    tmp.unlink(missing_ok=True)
    try:
        with tmp.open("wb") as image:
            image.truncate(size_mib * 2**20)
        _run([tools["sfdisk"], "--quiet", str(tmp)], stdin=f"label: dos\nstart={START_SECTOR}, type=6, bootable\n")
        _run([tools["mkfs.vfat"], f"--offset={START_SECTOR}", "-h", str(START_SECTOR), "-n", "BOOTDISK", str(tmp),
              str(fs_kib)])
        _run([tools["syslinux"], "--install", "--offset", str(offset), str(tmp)])
        with tmp.open("r+b") as image:  # MBR boot code only: keep the signature and the partition table
            image.write(MBR_BIN.read_bytes()[:MBR_CODE_BYTES])
        config = tmp.with_name(out.name + ".syslinux.cfg")
        config.write_text(CONFIG.format(cmdline=cmdline))
        try:
            target = f"{tmp}@@{offset}"
            for source, name in ((kernel, "vmlinuz"), (initrd, "initrd.img"), (config, "syslinux.cfg")):
                _run([tools["mcopy"], "-o", "-i", target, str(source), f"::{name}"])
        finally:
            config.unlink(missing_ok=True)
        os.replace(tmp, out)
    finally:
        tmp.unlink(missing_ok=True)
    return out


def _tools() -> dict[str, str]:
    """Command -> full path, or BootDiskError naming the first missing one and its Debian package."""
    found: dict[str, str] = {}
    for command, package in TOOLS.items():
        path = shutil.which(command, path=SEARCH_PATH)
        if path is None:
            raise BootDiskError(f"{command} not found: {INSTALL_HINT.format(package=package)}")
        found[command] = path
    return found


def _run(argv: list[str], stdin: str = "") -> None:
    # MTOOLS_SKIP_CHECK: mtools would reject a FAT whose size is not a whole number of its fake "tracks";
    # MTOOLSRC=/dev/null: no user's ~/.mtoolsrc changes the drive setup.
    env = {**os.environ, "MTOOLS_SKIP_CHECK": "1", "MTOOLSRC": "/dev/null"}
    try:
        subprocess.run(argv, input=stdin, capture_output=True, text=True, check=True, env=env, timeout=60)
    except subprocess.CalledProcessError as exc:
        output = (exc.stderr or exc.stdout or "").strip()
        raise BootDiskError(f"{' '.join(argv)} failed ({exc.returncode}): {output}") from exc
