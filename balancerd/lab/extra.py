"""Extra lab guests for executor tests: a writable local data disk, another network, a balancerd policy.

Called by e2e tests (tests/e2e/test_executor_lab.py) and benchmarks on a running lab: :func:`add_guest`
defines and starts one guest on host N like `lab up` does (same kernel, initramfs, control disk, TCG/KVM
choice), optionally with a raw data disk in the host's private ``local`` pool (``/var/lib/libvirt/images``
inside the host, ``DIR/hostN/lib/images`` outside), which the guest writes ``TICK n`` to every second.
:func:`data_tick` reads that sector back from any copy of the image. Everything lives under the lab
directory, so `lab down` removes it.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

from balancerd.lab import control, domain, guests, paths, state
from balancerd.lab.assets import BootAssets
from balancerd.lab.errors import LabError

GUEST_IMAGES = paths.BIND_TARGETS["lib"] / "images"


def image_name(guest: str, image: str = "") -> str:
    """The data disk's file name: ``image``, or ``GUEST.img`` by default."""
    name = image or f"{guest}.img"
    if "/" in name or name in (".", ".."):
        raise LabError(f"guest {guest}: the data disk's file name {name!r} must be a plain file name")
    return name


def image_path(layout: paths.LabLayout, host_index: int, guest: str, image: str = "") -> Path:
    """The data disk of ``guest`` on host N, as seen from the root namespace (``image`` as in add_guest)."""
    return layout.host(host_index).sub("lib") / "images" / image_name(guest, image)


def add_guest(layout: paths.LabLayout, host_index: int, name: str, *, data_disk_mib: int = 0,
              network: str | None = "prod", policy: str = "", image: str = "") -> Path:
    """Define and start ``name`` on host N; return its console file. ``image`` names the data disk's file
    (default ``NAME.img``; any characters but ``/``, to test names XML must escape)."""
    lab = state.load(layout.state_file)
    if lab is None:
        raise LabError(f"no lab in {layout.root}")
    layout.consoles.mkdir(parents=True, exist_ok=True)
    control.create(layout, name)
    data = None
    if data_disk_mib:
        _qemu_img_create(image_path(layout, host_index, name, image), data_disk_mib)
        data = GUEST_IMAGES / image_name(name, image)
    boot = BootAssets(layout.boot / "vmlinuz", layout.boot / "initrd.img")
    spec = domain.GuestSpec(name, boot.kernel, boot.initrd, layout.console(name), virt=lab.virt or "qemu",
                            network=network, control_disk=control.guest_path(name), data_disk=data,
                            policy=policy)
    layout.console(name).unlink(missing_ok=True)
    guests.start_one(layout.host(host_index), spec)
    return layout.console(name)


def _qemu_img_create(path: Path, mib: int) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    result = subprocess.run(["qemu-img", "create", "-q", "-f", "raw", str(path), f"{mib}M"],
                            capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise LabError(f"qemu-img create {path}: {result.stderr.strip()}")


def data_tick(image: Path) -> int:
    """The TICK counter in sector 0 of a raw data disk (the guest writes it with O_DIRECT), -1 if none."""
    try:
        with image.open("rb") as disk:
            sector = disk.read(512)
    except OSError:
        return -1
    found = guests.TICK_RE.search(sector.decode(errors="replace"))
    return int(found.group(1)) if found else -1
