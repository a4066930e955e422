"""The libvirt domain XML of an imported guest: pure, from its source description, devices and volume paths.

Called by :mod:`balancerd.importing.run` once the disks are in the target pool (their paths are what libvirt
reports for the uploaded volumes). NICs name libvirt networks (``<interface type='network'>``); the libvirt
backend turns one whose target is a bridge on that host into ``type='bridge'`` when it defines the domain.
The guest gets no ``<cpu>`` element: QEMU's default CPU model runs on every host, so it migrates anywhere
(set a CPU model afterwards with ``virsh edit`` where the guest needs more).
"""

from __future__ import annotations

import xml.etree.ElementTree as ET

from balancerd.importing.devices import Devices
from balancerd.importing.source import SourceGuest

_MIB = 1024 * 1024


def render(guest: SourceGuest, name: str, devices: Devices, paths: tuple[str, ...], *, domain_type: str,
           disk_format: str, serial_log: str = "") -> str:
    """The domain XML; ``paths`` holds each target disk's volume path in ``devices.disks`` order; the serial
    console goes to the file ``serial_log`` when given (``[imports] serial_log_dir``), else to a pty."""
    root = ET.Element("domain", type=domain_type)
    ET.SubElement(root, "name").text = name
    ET.SubElement(root, "memory", unit="MiB").text = str(max(1, guest.memory_bytes // _MIB))
    ET.SubElement(root, "vcpu").text = str(guest.vcpus)
    _os(root, devices)
    ET.SubElement(ET.SubElement(root, "features"), "acpi")
    if guest.sockets and guest.cores_per_socket and guest.sockets * guest.cores_per_socket == guest.vcpus:
        cpu = ET.SubElement(root, "cpu")
        ET.SubElement(cpu, "topology", sockets=str(guest.sockets), dies="1", cores=str(guest.cores_per_socket),
                      threads="1")
    _devices(ET.SubElement(root, "devices"), devices, paths, disk_format)
    _serial(root.find("devices"), serial_log)
    ET.indent(root)
    return ET.tostring(root, encoding="unicode")


def _os(root: ET.Element, devices: Devices) -> None:
    attrs = {"firmware": "efi"} if devices.firmware == "uefi" else {}
    os_el = ET.SubElement(root, "os", attrs)
    ET.SubElement(os_el, "type", arch="x86_64", machine=devices.machine).text = "hvm"
    ET.SubElement(os_el, "boot", dev="hd")


def _devices(parent: ET.Element, devices: Devices, paths: tuple[str, ...], disk_format: str) -> None:
    for model in devices.controllers:
        ET.SubElement(parent, "controller", type="scsi", model=model)
    for disk, path in zip(devices.disks, paths, strict=True):
        el = ET.SubElement(parent, "disk", type="file", device="disk")
        ET.SubElement(el, "driver", name="qemu", type=disk_format)
        ET.SubElement(el, "source", file=path)
        ET.SubElement(el, "target", dev=disk.dev, bus=disk.bus)
    for bus, dev in devices.cdroms:
        el = ET.SubElement(parent, "disk", type="file", device="cdrom")
        ET.SubElement(el, "target", dev=dev, bus=bus)
        ET.SubElement(el, "readonly")
    for nic in devices.nics:
        el = ET.SubElement(parent, "interface", type="network")
        if nic.mac:
            ET.SubElement(el, "mac", address=nic.mac)
        ET.SubElement(el, "source", network=nic.network)
        ET.SubElement(el, "model", type=nic.model)



def _serial(parent: ET.Element | None, log: str) -> None:
    assert parent is not None
    if log:
        ET.SubElement(ET.SubElement(parent, "serial", type="file"), "source", path=log, append="on")
    else:
        ET.SubElement(parent, "serial", type="pty")
    ET.SubElement(parent, "graphics", type="vnc", autoport="yes", listen="127.0.0.1")
