"""importing.domain: the libvirt domain XML of an imported guest, read back with ElementTree."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import pytest

from balancerd.importing import devices, domain
from balancerd.importing.source import Firmware, SourceCdrom, SourceDisk, SourceGuest, SourceNic

MIB = 1024 * 1024


def guest(*, firmware: Firmware = "bios", memory_bytes: int = 2048 * MIB, vcpus: int = 4, sockets: int = 0,
          cores: int = 0, name: str = "web") -> SourceGuest:
    return SourceGuest(
        format="vmx", name=name, memory_bytes=memory_bytes, vcpus=vcpus, firmware=firmware,
        disks=(SourceDisk("scsi", "a.vmdk", "vmdk", controller="pvscsi"), SourceDisk("nvme", "b.vmdk", "vmdk")),
        cdroms=(SourceCdrom("sata"),),
        nics=(SourceNic("VM Network", "00:50:56:01:02:03", "vmxnet3"), SourceNic("Backup", None, "e1000")),
        sockets=sockets, cores_per_socket=cores)


PATHS = ("/var/lib/libvirt/images/web-disk0.qcow2", "/var/lib/libvirt/images/web-disk1.qcow2")
NETWORKS = {"VM Network": "default", "Backup": "br-backup"}


def attr(element: ET.Element, path: str, name: str) -> str | None:
    """``name`` of the child at ``path`` (None: no such child)."""
    found = element.find(path)
    return None if found is None else found.get(name)


def render(g: SourceGuest, *, name: str = "web", domain_type: str = "kvm", disk_format: str = "qcow2",
           serial_log: str = "", compat: bool = False) -> ET.Element:
    chosen = devices.choose(g, name, NETWORKS, compat=compat, volume_ext=disk_format)
    return ET.fromstring(domain.render(g, name, chosen, PATHS, domain_type=domain_type, disk_format=disk_format,
                                       serial_log=serial_log))


@pytest.mark.parametrize("domain_type", ["kvm", "qemu"])
def test_type_name_memory_and_vcpus(domain_type: str) -> None:
    root = render(guest(memory_bytes=3072 * MIB, vcpus=3), domain_type=domain_type)
    assert root.tag == "domain"
    assert root.get("type") == domain_type
    assert root.findtext("name") == "web"
    memory = root.find("memory")
    assert memory is not None
    assert (memory.get("unit"), memory.text) == ("MiB", "3072")
    assert root.findtext("vcpu") == "3"
    assert root.find("features/acpi") is not None


def test_memory_below_one_mib_is_one_mib() -> None:
    assert render(guest(memory_bytes=1000)).findtext("memory") == "1"


@pytest.mark.parametrize(("vcpus", "sockets", "cores", "topology"), [
    (4, 2, 2, {"sockets": "2", "dies": "1", "cores": "2", "threads": "1"}),
    (4, 1, 4, {"sockets": "1", "dies": "1", "cores": "4", "threads": "1"}),
    (4, 0, 0, None),                    # not given
    (4, 3, 2, None),                    # does not multiply to the vCPUs
    (4, 2, 0, None),
])
def test_topology_only_when_sockets_times_cores_is_the_vcpus(vcpus: int, sockets: int, cores: int,
                                                             topology: dict[str, str] | None) -> None:
    root = render(guest(vcpus=vcpus, sockets=sockets, cores=cores))
    found = root.find("cpu/topology")
    if topology is None:
        assert root.find("cpu") is None
    else:
        assert found is not None
        assert found.attrib == topology


@pytest.mark.parametrize(("firmware", "os_attrs", "machine"), [
    ("uefi", {"firmware": "efi"}, "q35"),
    ("bios", {}, "pc"),
])
def test_os_firmware_machine_and_boot(firmware: Firmware, os_attrs: dict[str, str], machine: str) -> None:
    root = render(guest(firmware=firmware))
    os_el = root.find("os")
    assert os_el is not None
    assert os_el.attrib == os_attrs
    os_type = os_el.find("type")
    assert os_type is not None
    assert (os_type.text, os_type.get("arch"), os_type.get("machine")) == ("hvm", "x86_64", machine)
    assert [b.get("dev") for b in os_el.findall("boot")] == ["hd"]


@pytest.mark.parametrize("disk_format", ["qcow2", "raw"])
def test_every_disk_with_its_driver_source_and_target(disk_format: str) -> None:
    root = render(guest(), disk_format=disk_format)
    disks = root.findall("devices/disk[@device='disk']")
    got = [(d.get("type"), attr(d, "driver", "name"), attr(d, "driver", "type"), attr(d, "source", "file"),
            attr(d, "target", "dev"), attr(d, "target", "bus")) for d in disks]
    assert got == [("file", "qemu", disk_format, PATHS[0], "sda", "scsi"),
                   ("file", "qemu", disk_format, PATHS[1], "vda", "virtio")]
    controllers = root.findall("devices/controller")
    assert [(c.get("type"), c.get("model")) for c in controllers] == [("scsi", "virtio-scsi")]


def test_no_scsi_controller_without_scsi_disks() -> None:
    assert render(guest(), compat=True).findall("devices/controller") == []


def test_cdroms_are_readonly_and_empty() -> None:
    root = render(guest())
    cdroms = root.findall("devices/disk[@device='cdrom']")
    assert len(cdroms) == 1
    target = cdroms[0].find("target")
    assert target is not None
    assert (target.get("dev"), target.get("bus")) == ("sdb", "sata")
    assert cdroms[0].find("readonly") is not None
    assert cdroms[0].find("source") is None


@pytest.mark.parametrize(("compat", "models"), [(False, ["virtio", "virtio"]), (True, ["e1000", "e1000"])])
def test_interfaces_name_their_network_mac_and_model(compat: bool, models: list[str]) -> None:
    nics = render(guest(), compat=compat).findall("devices/interface")
    assert [n.get("type") for n in nics] == ["network", "network"]
    assert [attr(n, "source", "network") for n in nics] == ["default", "br-backup"]
    assert [attr(n, "mac", "address") for n in nics] == ["00:50:56:01:02:03", None]
    assert [attr(n, "model", "type") for n in nics] == models


def test_serial_to_a_file_when_a_log_is_given() -> None:
    serials = render(guest(), serial_log="/srv/serial/web.log").findall("devices/serial")
    assert [s.get("type") for s in serials] == ["file"]
    source = serials[0].find("source")
    assert source is not None
    assert source.attrib == {"path": "/srv/serial/web.log", "append": "on"}


def test_serial_on_a_pty_without_a_log() -> None:
    serials = render(guest()).findall("devices/serial")
    assert [s.get("type") for s in serials] == ["pty"]
    assert serials[0].find("source") is None
    graphics = render(guest()).find("devices/graphics")
    assert graphics is not None
    assert graphics.attrib == {"type": "vnc", "autoport": "yes", "listen": "127.0.0.1"}


@pytest.mark.parametrize("name", ["a&b<c>", "it's \"quoted\"", "Büro XP"])
def test_names_with_xml_special_characters_round_trip(name: str) -> None:
    text = domain.render(guest(name=name), name, devices.choose(guest(), name, NETWORKS, compat=False,
                                                                   volume_ext="qcow2"),
                         ("/pool/a&b.qcow2", "/pool/<b>.qcow2"), domain_type="kvm", disk_format="qcow2",
                         serial_log=f"/logs/{name}.log")
    root = ET.fromstring(text)
    assert root.findtext("name") == name
    assert [attr(d, "source", "file") for d in root.findall("devices/disk[@device='disk']")] == [
        "/pool/a&b.qcow2", "/pool/<b>.qcow2"]
    source = root.find("devices/serial/source")
    assert source is not None
    assert source.get("path") == f"/logs/{name}.log"
    if "&" in name:
        assert "a&amp;b&lt;c&gt;" in text


def test_paths_must_match_the_disks() -> None:
    chosen = devices.choose(guest(), "web", NETWORKS, compat=False, volume_ext="qcow2")
    with pytest.raises(ValueError):
        domain.render(guest(), "web", chosen, PATHS[:1], domain_type="kvm", disk_format="qcow2")
