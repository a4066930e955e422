"""Pure builder of the guests' initramfs: a gzip'ed cpio (newc) archive with static busybox, the virtio
modules and an /init that prints ``TICK n boot=<id>`` to the serial port every second (and to sector 0 of a
writable data disk with serial ``balancerd-data`` when the guest has one: storage-migration tests).

Called by assets.py at `lab up`; unit-tested in tests/unit/lab/test_initramfs.py. The /init also powers
the guest off when the ACPI power button is pressed (plain busybox init ignores it).
"""

from __future__ import annotations

import gzip
import io
import stat
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

# insmod order matters: virtio_ring before virtio fails with "unknown symbol" (lab-notes §3).
MODULES = ("virtio_ring", "virtio", "virtio_pci_legacy_dev", "virtio_pci_modern_dev", "virtio_pci",
           "virtio_balloon", "virtio_blk", "evdev", "button")

INIT_SCRIPT = """#!/bin/busybox sh
/bin/busybox --install -s /bin
export PATH=/bin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
for m in {modules}; do insmod /lib/modules/$m.ko 2>/dev/null; done
boot=$(cut -c1-8 /proc/sys/kernel/random/boot_id)
for d in /sys/class/input/event*; do
  if grep -q "Power Button" "$d/device/name" 2>/dev/null; then
    (dd if=/dev/input/${{d##*/}} of=/dev/null bs=24 count=1 2>/dev/null; poweroff -f) &
  fi
done
{control}
data=
for b in /sys/block/vd*; do
  [ "$(cat "$b/serial" 2>/dev/null)" = {data_serial} ] && data=/dev/${{b##*/}}
done
i=0
while true; do
  i=$((i + 1))
  echo "TICK $i boot=$boot" > /dev/ttyS0
  [ -n "$data" ] && echo "TICK $i boot=$boot" | dd of=$data bs=512 count=1 conv=notrunc,sync oflag=direct 2>/dev/null
  sleep 1
done
"""

# Load generator driven by a read-only control disk (serial "balancerd-ctl"): sector 0 holds
# "load=P mem=M"; every second the guest re-reads it, burns P % of its vCPU (SIGSTOP/SIGCONT duty cycle
# of a busy loop, 100 ms period) and holds M MiB in tmpfs, rewritten each second while P > 0.
CONTROL_SCRIPT = """ctl=
for b in /sys/block/vd*; do
  [ "$(cat "$b/serial" 2>/dev/null)" = {serial} ] && ctl=/dev/${{b##*/}}
done
if [ -n "$ctl" ]; then
  mkdir -p /mnt/mem && mount -t tmpfs -o size=90% tmpfs /mnt/mem
  (while :; do :; done) &
  burner=$!
  kill -STOP $burner
  (held=0
   while :; do
     load=0; mem=0
     for kv in $(dd if=$ctl bs=512 count=1 iflag=direct 2>/dev/null | tr -d '\\000'); do
       case $kv in load=*) load=${{kv#load=}};; mem=*) mem=${{kv#mem=}};; esac
     done
     case $load in ''|*[!0-9]*) load=0;; esac
     case $mem in ''|*[!0-9]*) mem=0;; esac
     [ $load -gt 100 ] && load=100
     if [ $mem -ne $held ] || [ $load -gt 0 ]; then
       rm -f /mnt/mem/fill
       avail=$(($(awk '/MemAvailable/ {{print $2}}' /proc/meminfo) / 1024 - 12))
       [ $mem -gt $avail ] && mem=$avail
       [ $mem -gt 0 ] && dd if=/dev/zero of=/mnt/mem/fill bs=1M count=$mem 2>/dev/null
       held=$mem
     fi
     if [ $load -eq 0 ]; then kill -STOP $burner; sleep 1; continue; fi
     n=0
     while [ $n -lt 10 ]; do
       n=$((n + 1))
       kill -CONT $burner
       usleep $((load * 1000))
       [ $load -lt 100 ] && kill -STOP $burner && usleep $(((100 - load) * 1000))
     done
   done) &
fi"""


@dataclass(frozen=True, slots=True)
class Entry:
    """One member of the cpio archive."""

    name: str
    mode: int
    data: bytes = b""
    rdev: tuple[int, int] = (0, 0)


CONTROL_SERIAL = "balancerd-ctl"
DATA_SERIAL = "balancerd-data"
"""A writable disk with this serial gets ``TICK n boot=<id>`` written to its sector 0 every second."""


def init_script(modules: Sequence[str] = MODULES) -> str:
    """The guest's /init (busybox sh)."""
    control = CONTROL_SCRIPT.format(serial=CONTROL_SERIAL)
    return INIT_SCRIPT.format(modules=" ".join(modules), control=control, data_serial=DATA_SERIAL)


def entries(busybox: bytes, modules: Iterable[tuple[str, bytes]]) -> list[Entry]:
    """The archive members: directories, /dev/console, busybox, the modules and /init."""
    dirs = ["bin", "dev", "proc", "sys", "tmp", "lib", "lib/modules"]
    result = [Entry(d, stat.S_IFDIR | 0o755) for d in dirs]
    result.append(Entry("dev/console", stat.S_IFCHR | 0o600, rdev=(5, 1)))
    result.append(Entry("bin/busybox", stat.S_IFREG | 0o755, busybox))
    result += [Entry(f"lib/modules/{name}.ko", stat.S_IFREG | 0o644, data) for name, data in modules]
    result.append(Entry("init", stat.S_IFREG | 0o755, init_script().encode()))
    return result


def cpio_newc(members: Sequence[Entry]) -> bytes:
    """An uncompressed cpio archive in the kernel's "newc" format."""
    out = io.BytesIO()
    for ino, member in enumerate(members, start=1):
        _write(out, ino, member)
    _write(out, 0, Entry("TRAILER!!!", 0))
    return out.getvalue()


def _write(out: io.BytesIO, ino: int, member: Entry) -> None:
    name = member.name.encode() + b"\0"
    nlink = 2 if stat.S_ISDIR(member.mode) else 1
    fields = (ino, member.mode, 0, 0, nlink, 0, len(member.data), 0, 0, *member.rdev, len(name), 0)
    out.write(b"070701" + b"".join(f"{f:08x}".encode() for f in fields))
    out.write(name)
    _pad(out)
    out.write(member.data)
    _pad(out)


def _pad(out: io.BytesIO) -> None:
    out.write(b"\0" * (-out.tell() % 4))


def build(busybox: bytes, modules: Iterable[tuple[str, bytes]]) -> bytes:
    """The gzip'ed initramfs (deterministic: same inputs, same bytes)."""
    return gzip.compress(cpio_newc(entries(busybox, modules)), mtime=0)
