"""Guest boot assets: find the kernel `scripts/install-lab-deps` extracted, build the initramfs and put
both under ``DIR/shared/boot`` (a path every lab host sees; kept by `down`).

Called by lifecycle.py at `lab up`, before any guest is defined.
"""

from __future__ import annotations

import lzma
import os
import shutil
from dataclasses import dataclass
from pathlib import Path

from balancerd.lab import initramfs, paths
from balancerd.lab.errors import LabError

BUSYBOX = Path("/bin/busybox")
INSTALL_SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "install-lab-deps"
INSTALL_HINT = f"run `sudo {INSTALL_SCRIPT}` (installs the packages and extracts the guest kernel)"


@dataclass(frozen=True, slots=True)
class BootAssets:
    """The kernel and initramfs the guests boot."""

    kernel: Path
    initrd: Path


def kernel_dir(cache: Path) -> Path:
    """The extracted kernel in the cache, or LabError saying how to get it."""
    current = cache / "kernel" / "current"
    if not (current / "vmlinuz").is_file():
        raise LabError(f"guest kernel missing ({current / 'vmlinuz'}): {INSTALL_HINT}")
    return current


def read_module(modules_dir: Path, name: str) -> bytes:
    """One kernel module, decompressed if the package shipped it as .ko.xz."""
    plain, packed = modules_dir / f"{name}.ko", modules_dir / f"{name}.ko.xz"
    if plain.is_file():
        return plain.read_bytes()
    if packed.is_file():
        return lzma.decompress(packed.read_bytes())
    raise LabError(f"kernel module {name} missing in {modules_dir}: {INSTALL_HINT}")


def prepare(layout: paths.LabLayout, cache: Path) -> BootAssets:
    """Copy the kernel and (re)build the initramfs under ``DIR/shared/boot`` when they differ."""
    source = kernel_dir(cache)
    if not BUSYBOX.is_file():
        raise LabError(f"{BUSYBOX} missing (package busybox-static): {INSTALL_HINT}")
    modules = [(m, read_module(source / "modules", m)) for m in initramfs.MODULES]
    image = initramfs.build(BUSYBOX.read_bytes(), modules)
    assets = BootAssets(layout.boot / "vmlinuz", layout.boot / "initrd.img")
    _write_if_changed(assets.kernel, (source / "vmlinuz").read_bytes())
    _write_if_changed(assets.initrd, image)
    return assets


def _write_if_changed(path: Path, data: bytes) -> None:
    if path.is_file() and path.read_bytes() == data:
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_bytes(data)
    os.replace(tmp, path)


def copy_tree_files(source: Path, dest: Path) -> int:
    """Copy the regular files of ``source`` into ``dest`` (used for the capabilities cache)."""
    if not source.is_dir():
        return 0
    dest.mkdir(parents=True, exist_ok=True)
    copied = 0
    for item in source.iterdir():
        if item.is_file() and not item.name.endswith(".tmp"):
            tmp = dest / (item.name + ".tmp")
            shutil.copy2(item, tmp)
            os.replace(tmp, dest / item.name)  # concurrent labs never see half a file
            copied += 1
    return copied
