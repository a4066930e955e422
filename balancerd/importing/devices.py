"""The devices an imported guest gets on KVM, chosen so that it boots: buses, NIC models, firmware, machine.

Called by :mod:`balancerd.importing.target` (the ``devices`` object of the dry-run) and read by
:mod:`balancerd.importing.domain` (the domain XML). Pure. By default disks behind a SCSI controller (pvscsi,
lsilogic, lsisas1068, buslogic) go to virtio-scsi, NVMe disks to virtio-blk, SATA stays SATA, IDE stays IDE (SATA on
q35, which has no IDE); every NIC becomes virtio. ``compat`` keeps to devices every guest OS has drivers for
(Windows without virtio drivers): SCSI and NVMe disks on SATA (IDE, the most widely supported, stays), NICs e1000
(e1000e stays e1000e). UEFI guests get OVMF (libvirt's firmware auto-selection) on q35; BIOS guests SeaBIOS on pc.
MACs are kept.
"""

from __future__ import annotations

from dataclasses import dataclass

from balancerd.importing.source import SourceGuest

_DEV_PREFIX = {"virtio": "vd", "scsi": "sd", "sata": "sd", "ide": "hd"}
"""libvirt names disks by prefix: SCSI and SATA share "sd", so they are counted together."""


@dataclass(frozen=True, slots=True)
class TargetDisk:
    """One disk on the target: the source file it comes from, its bus and device name, and the volume name."""

    source_file: str
    bus: str
    dev: str
    volume: str


@dataclass(frozen=True, slots=True)
class TargetNic:
    """One NIC on the target: the libvirt network (or bridge) it attaches to, its MAC and model."""

    source_network: str
    network: str
    mac: str | None
    model: str


@dataclass(frozen=True, slots=True)
class Devices:
    """Everything the domain XML needs beyond name, memory and CPUs."""

    machine: str
    firmware: str
    disks: tuple[TargetDisk, ...]
    nics: tuple[TargetNic, ...]
    cdroms: tuple[tuple[str, str], ...]
    """(bus, device name) of each CD-ROM drive, empty (images are not imported)."""
    controllers: tuple[str, ...] = ()
    """Controller models the disks need ("virtio-scsi")."""


def choose(guest: SourceGuest, name: str, networks: dict[str, str], *, compat: bool, volume_ext: str) -> Devices:
    """The devices of ``guest`` imported as ``name``; ``networks`` maps each source network to its target."""
    q35 = guest.firmware == "uefi"
    buses = [_disk_bus(d.bus, compat=compat, q35=q35) for d in guest.disks]
    cd_buses = ["sata" if q35 or c.bus == "sata" else "ide" for c in guest.cdroms]
    devs = _names([*buses, *cd_buses])
    disks = tuple(TargetDisk(d.file, bus, dev, f"{name}-disk{i}.{volume_ext}")
                  for i, (d, bus, dev) in enumerate(zip(guest.disks, buses, devs[:len(buses)], strict=True)))
    nics = tuple(TargetNic(n.network, networks.get(n.network, ""), n.mac, _nic_model(n.model, compat=compat))
                 for n in guest.nics)
    cdroms = tuple(zip(cd_buses, devs[len(buses):], strict=True))
    controllers = ("virtio-scsi",) if "scsi" in buses else ()
    return Devices("q35" if q35 else "pc", guest.firmware, disks, nics, cdroms, controllers)


def _disk_bus(bus: str, *, compat: bool, q35: bool) -> str:
    if bus == "ide":
        return "sata" if q35 else "ide"
    if compat or bus == "sata":
        return "sata"
    return "scsi" if bus == "scsi" else "virtio"


def _nic_model(model: str, *, compat: bool) -> str:
    if not compat:
        return "virtio"
    return "e1000e" if model == "e1000e" else "e1000"


def _names(buses: list[str]) -> list[str]:
    """A device name per bus in order: the n-th disk of a prefix gets its n-th name."""
    seen: dict[str, int] = {}
    names = []
    for bus in buses:
        prefix = _DEV_PREFIX[bus]
        names.append(_dev(prefix, seen.get(prefix, 0)))
        seen[prefix] = seen.get(prefix, 0) + 1
    return names


def _dev(prefix: str, index: int) -> str:
    """sda, sdb, ... sdz, sdaa (libvirt's naming) for the ``index``-th disk of ``prefix``."""
    letters = ""
    index += 1
    while index:
        index, rest = divmod(index - 1, 26)
        letters = chr(ord("a") + rest) + letters
    return prefix + letters


def as_json(devices: Devices) -> dict[str, object]:
    """The ``target.devices`` object of the dry-run."""
    return {"machine": devices.machine, "firmware": devices.firmware,
            "disks": [{"source_file": d.source_file, "bus": d.bus, "dev": d.dev, "volume": d.volume}
                      for d in devices.disks],
            "nics": [{"source_network": n.source_network, "network": n.network, "mac": n.mac, "model": n.model}
                     for n in devices.nics],
            "cdroms": [{"bus": bus, "dev": dev} for bus, dev in devices.cdroms],
            "controllers": list(devices.controllers)}
