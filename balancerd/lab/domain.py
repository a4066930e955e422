"""Pure generator of the lab guests' libvirt domain XML.

Called by guests.py to define ``vm1..vmK`` (and the KVM probe guest); unit-tested in
tests/unit/lab/test_domain.py. A guest is a Debian kernel + busybox initramfs (assets.py) with 96 MiB,
one vCPU, ACPI (for the power button), a virtio balloon with stats every 2 s, a NIC on the ``prod``
network and its serial console appended to a file on a path every host sees.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from xml.sax.saxutils import escape, quoteattr

GUEST_MEMORY_MIB = 96  # 64 and 80 MiB never boot (lab-notes pitfall 3)
TB_CACHE_MIB = 32
KERNEL_CMDLINE = "console=ttyS0 quiet panic=-1"


@dataclass(frozen=True, slots=True)
class GuestSpec:
    """Everything that varies between lab guests."""

    name: str
    kernel: Path
    initrd: Path
    console: Path
    virt: str = "qemu"  # libvirt domain type: "qemu" (TCG) or "kvm"
    memory_mib: int = GUEST_MEMORY_MIB
    network: str | None = "prod"
    control_disk: Path | None = None
    data_disk: Path | None = None
    """A writable raw disk (``vda``, serial balancerd-data) the guest writes TICKs to (storage tests)."""
    policy: str = ""
    """Attributes of ``<balancerd:policy .../>`` metadata, e.g. ``live='no'`` ("" = none)."""


def domain_xml(spec: GuestSpec) -> str:
    """The persistent definition of one guest."""
    if spec.virt not in ("qemu", "kvm"):
        raise ValueError(f"virt must be 'qemu' or 'kvm', not {spec.virt!r}")
    parts = [
        f"<domain type={quoteattr(spec.virt)}>",
        f"<name>{escape(spec.name)}</name>",
        f"<memory unit='MiB'>{spec.memory_mib}</memory>",
        f"<currentMemory unit='MiB'>{spec.memory_mib}</currentMemory>",
        "<vcpu>1</vcpu>",
        _os(spec),
        _features(spec.virt),
        "<clock offset='utc'/>",
        "<on_poweroff>destroy</on_poweroff><on_reboot>restart</on_reboot><on_crash>destroy</on_crash>",
        _metadata(spec.policy),
        _devices(spec),
        "</domain>",
    ]
    return "\n".join(parts) + "\n"


def _os(spec: GuestSpec) -> str:
    return ("<os><type arch='x86_64' machine='pc'>hvm</type>"
            f"<kernel>{escape(str(spec.kernel))}</kernel>"
            f"<initrd>{escape(str(spec.initrd))}</initrd>"
            f"<cmdline>{escape(KERNEL_CMDLINE)}</cmdline></os>")


def _features(virt: str) -> str:
    tcg = f"<tcg><tb-cache unit='MiB'>{TB_CACHE_MIB}</tb-cache></tcg>" if virt == "qemu" else ""
    return f"<features><acpi/>{tcg}</features>"


POLICY_NS = "https://balancerd.dev/1"


def _metadata(policy: str) -> str:
    if not policy:
        return ""
    return f"<metadata><balancerd:policy xmlns:balancerd='{POLICY_NS}' {policy}/></metadata>"


def _devices(spec: GuestSpec) -> str:
    devices = [
        "<devices>",
        "<emulator>/usr/bin/qemu-system-x86_64</emulator>",
        f"<serial type='file'><source path={quoteattr(str(spec.console))} append='on'/>"
        "<target port='0'/></serial>",
    ]
    if spec.data_disk is not None:
        devices.append("<disk type='file' device='disk'><driver name='qemu' type='raw' cache='none'/>"
                       f"<source file={quoteattr(str(spec.data_disk))}/>"
                       "<target dev='vda' bus='virtio'/><serial>balancerd-data</serial></disk>")
    if spec.control_disk is not None:
        devices.append("<disk type='file' device='disk'><driver name='qemu' type='raw' cache='none'/>"
                       f"<source file={quoteattr(str(spec.control_disk))}/>"
                       "<target dev='vdz' bus='virtio'/><readonly/><serial>balancerd-ctl</serial></disk>")
    if spec.network is not None:
        devices.append(f"<interface type='network'><source network={quoteattr(spec.network)}/>"
                       "<model type='virtio'/></interface>")
    devices.append("<memballoon model='virtio'><stats period='2'/></memballoon>")
    devices.append("</devices>")
    return "\n".join(devices)
