"""What an export says about its guest, before any mapping: the frozen values every parser returns.

Built by the parsers (:mod:`balancerd.importing.vmx`, :mod:`~balancerd.importing.ovf`,
:mod:`~balancerd.importing.hyperv`); read by the mapping, the checks, the conversion and ``--dry-run --json``
(:func:`as_json` is the ``source`` object of that output).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Literal

SourceFormat = Literal["vmx", "ovf", "vhdx", "vhd"]
Firmware = Literal["bios", "uefi"]


@dataclass(frozen=True, slots=True)
class SourceDisk:
    """One disk as the export names it. ``file``: the path relative to the export's folder (an OVF's
    ``ovf:href``); ``format``: what the export says (vmdk, vhdx, vhd, raw, ...; qemu-img's reading replaces it
    when the file is measured); ``virtual_size_bytes``: 0 when the export does not say (VMX), filled from
    qemu-img; ``controller``: the source controller model (pvscsi, lsilogic, lsisas1068, buslogic, ahci, ...);
    ``compression`` ("gzip") and ``chunk_size`` (bytes, 0 = one file) as OVF allows."""

    bus: str
    file: str
    format: str
    virtual_size_bytes: int = 0
    controller: str = ""
    compression: str = ""
    chunk_size: int = 0


@dataclass(frozen=True, slots=True)
class SourceCdrom:
    """One CD-ROM drive present in the export (its image, if any, is not imported)."""

    bus: str
    file: str = ""


@dataclass(frozen=True, slots=True)
class SourceNic:
    """One network adapter: the source network (VMware port group, OVF network, Hyper-V switch), its MAC when
    the export fixes one, and its model (vmxnet3, e1000, e1000e, vlance, netvsc, ...)."""

    network: str
    mac: str | None
    model: str


@dataclass(frozen=True, slots=True)
class SourceGuest:
    """One guest as its export describes it. ``sockets`` and ``cores_per_socket`` are 0 when not given."""

    format: SourceFormat
    name: str
    memory_bytes: int
    vcpus: int
    firmware: Firmware
    disks: tuple[SourceDisk, ...]
    cdroms: tuple[SourceCdrom, ...] = ()
    nics: tuple[SourceNic, ...] = ()
    sockets: int = 0
    cores_per_socket: int = 0
    guest_os: str = ""


def as_json(guest: SourceGuest) -> dict[str, object]:
    """The ``source`` object of ``balancerd import --dry-run --json``."""
    return {"format": guest.format, "name": guest.name, "memory_bytes": guest.memory_bytes, "vcpus": guest.vcpus,
            "sockets": guest.sockets, "cores_per_socket": guest.cores_per_socket, "firmware": guest.firmware,
            "guest_os": guest.guest_os, "disks": [dataclasses.asdict(d) for d in guest.disks],
            "cdroms": [dataclasses.asdict(c) for c in guest.cdroms],
            "nics": [dataclasses.asdict(n) for n in guest.nics]}
