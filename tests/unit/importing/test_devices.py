"""importing.devices: the buses, device names, NIC models, firmware and machine an imported guest gets on KVM."""

from __future__ import annotations

import pytest

from balancerd.importing import devices
from balancerd.importing.devices import Devices, TargetDisk, TargetNic
from balancerd.importing.source import Firmware, SourceCdrom, SourceDisk, SourceGuest, SourceNic

MIB = 1024 * 1024


def guest(disks: tuple[SourceDisk, ...], *, firmware: Firmware = "bios", cdroms: tuple[SourceCdrom, ...] = (),
          nics: tuple[SourceNic, ...] = ()) -> SourceGuest:
    return SourceGuest(format="vmx", name="web", memory_bytes=1024 * MIB, vcpus=2, firmware=firmware, disks=disks,
                       cdroms=cdroms, nics=nics)


def disk(bus: str, file: str = "d.vmdk", controller: str = "") -> SourceDisk:
    return SourceDisk(bus=bus, file=file, format="vmdk", controller=controller)


def choose(g: SourceGuest, *, compat: bool = False, networks: dict[str, str] | None = None,
           ext: str = "qcow2") -> Devices:
    return devices.choose(g, "web", networks or {}, compat=compat, volume_ext=ext)


@pytest.mark.parametrize(("bus", "controller", "firmware", "compat", "expected_bus", "dev", "controllers"), [
    ("scsi", "pvscsi", "bios", False, "scsi", "sda", ("virtio-scsi",)),
    ("scsi", "lsilogic", "bios", False, "scsi", "sda", ("virtio-scsi",)),
    ("scsi", "lsisas1068", "uefi", False, "scsi", "sda", ("virtio-scsi",)),
    ("scsi", "buslogic", "bios", False, "scsi", "sda", ("virtio-scsi",)),
    ("nvme", "nvme", "bios", False, "virtio", "vda", ()),
    ("nvme", "nvme", "uefi", False, "virtio", "vda", ()),
    ("sata", "ahci", "bios", False, "sata", "sda", ()),
    ("sata", "ahci", "uefi", False, "sata", "sda", ()),
    ("ide", "ide", "bios", False, "ide", "hda", ()),
    ("ide", "ide", "uefi", False, "sata", "sda", ()),            # q35 has no IDE
    ("scsi", "pvscsi", "bios", True, "sata", "sda", ()),
    ("nvme", "nvme", "bios", True, "sata", "sda", ()),
    ("sata", "ahci", "uefi", True, "sata", "sda", ()),
    ("ide", "ide", "uefi", True, "sata", "sda", ()),
])
def test_disk_bus_device_name_and_controller(bus: str, controller: str, firmware: Firmware, compat: bool,
                                             expected_bus: str, dev: str, controllers: tuple[str, ...]) -> None:
    chosen = choose(guest((disk(bus, controller=controller),), firmware=firmware), compat=compat)
    assert chosen.disks == (TargetDisk("d.vmdk", expected_bus, dev, "web-disk0.qcow2"),)
    assert chosen.controllers == controllers


@pytest.mark.parametrize(("firmware", "machine"), [("bios", "pc"), ("uefi", "q35")])
def test_firmware_decides_the_machine(firmware: Firmware, machine: str) -> None:
    chosen = choose(guest((disk("sata"),), firmware=firmware))
    assert (chosen.machine, chosen.firmware) == (machine, firmware)


@pytest.mark.parametrize(("model", "compat", "expected"), [
    ("vmxnet3", False, "virtio"),
    ("e1000", False, "virtio"),
    ("e1000e", False, "virtio"),
    ("netvsc", False, "virtio"),
    ("vmxnet3", True, "e1000"),
    ("vlance", True, "e1000"),
    ("e1000", True, "e1000"),
    ("e1000e", True, "e1000e"),
    ("netvsc", True, "e1000"),
])
def test_nic_model(model: str, compat: bool, expected: str) -> None:
    nic = SourceNic(network="VM Network", mac="00:50:56:01:02:03", model=model)
    chosen = choose(guest((disk("scsi"),), nics=(nic,)), compat=compat, networks={"VM Network": "prod"})
    assert chosen.nics == (TargetNic("VM Network", "prod", "00:50:56:01:02:03", expected),)


def test_macs_are_kept_and_each_nic_gets_its_mapped_network() -> None:
    nics = (SourceNic("VM Network", "00:50:56:aa:bb:cc", "vmxnet3"), SourceNic("Backup", None, "e1000"),
            SourceNic("Unmapped", "00:50:56:00:00:01", "e1000e"))
    chosen = choose(guest((disk("scsi"),), nics=nics), networks={"VM Network": "prod", "Backup": "br-backup"})
    assert chosen.nics == (TargetNic("VM Network", "prod", "00:50:56:aa:bb:cc", "virtio"),
                           TargetNic("Backup", "br-backup", None, "virtio"),
                           TargetNic("Unmapped", "", "00:50:56:00:00:01", "virtio"))


def test_scsi_and_sata_share_the_sd_names_cdroms_included() -> None:
    g = guest((disk("scsi", "a.vmdk"), disk("sata", "b.vmdk"), disk("scsi", "c.vmdk"), disk("nvme", "d.vmdk"),
               disk("nvme", "e.vmdk")), cdroms=(SourceCdrom("sata"), SourceCdrom("ide")), firmware="uefi")
    chosen = choose(g)
    assert [(d.source_file, d.bus, d.dev) for d in chosen.disks] == [
        ("a.vmdk", "scsi", "sda"), ("b.vmdk", "sata", "sdb"), ("c.vmdk", "scsi", "sdc"), ("d.vmdk", "virtio", "vda"),
        ("e.vmdk", "virtio", "vdb")]
    assert chosen.cdroms == (("sata", "sdd"), ("sata", "sde"))     # the IDE drive goes to SATA on q35
    names = [d.dev for d in chosen.disks] + [dev for _, dev in chosen.cdroms]
    assert len(names) == len(set(names))


def test_ide_disks_and_cdroms_on_bios_share_the_hd_names() -> None:
    g = guest((disk("ide", "a.vmdk"), disk("scsi", "b.vmdk")),
              cdroms=(SourceCdrom("ide"), SourceCdrom("sata"), SourceCdrom("scsi")))
    chosen = choose(g)
    assert [(d.bus, d.dev) for d in chosen.disks] == [("ide", "hda"), ("scsi", "sda")]
    assert chosen.cdroms == (("ide", "hdb"), ("sata", "sdb"), ("ide", "hdc"))


def test_compat_puts_every_disk_on_sata_with_unique_names() -> None:
    g = guest((disk("scsi", "a.vmdk"), disk("nvme", "b.vmdk"), disk("sata", "c.vmdk")),
              cdroms=(SourceCdrom("sata"),))
    chosen = choose(g, compat=True)
    assert [(d.bus, d.dev) for d in chosen.disks] == [("sata", "sda"), ("sata", "sdb"), ("sata", "sdc")]
    assert chosen.cdroms == (("sata", "sdd"),)
    assert chosen.controllers == ()


@pytest.mark.parametrize(("count", "last"), [(1, "sda"), (26, "sdz"), (27, "sdaa"), (28, "sdab"), (53, "sdba")])
def test_device_names_past_z(count: int, last: str) -> None:
    chosen = choose(guest(tuple(disk("scsi", f"d{i}.vmdk") for i in range(count))))
    assert chosen.disks[-1].dev == last
    assert len({d.dev for d in chosen.disks}) == count


@pytest.mark.parametrize("ext", ["qcow2", "raw"])
def test_volume_names_are_name_disk_n_ext(ext: str) -> None:
    chosen = devices.choose(guest((disk("scsi", "a.vmdk"), disk("sata", "b.vmdk"), disk("nvme", "c.vmdk"))),
                            "app7", {}, compat=False, volume_ext=ext)
    assert [d.volume for d in chosen.disks] == [f"app7-disk0.{ext}", f"app7-disk1.{ext}", f"app7-disk2.{ext}"]


def test_as_json() -> None:
    g = guest((disk("scsi", "a.vmdk", "pvscsi"),), cdroms=(SourceCdrom("ide"),),
              nics=(SourceNic("VM Network", "00:50:56:01:02:03", "vmxnet3"),))
    doc = devices.as_json(choose(g, networks={"VM Network": "default"}))
    assert doc == {
        "machine": "pc", "firmware": "bios",
        "disks": [{"source_file": "a.vmdk", "bus": "scsi", "dev": "sda", "volume": "web-disk0.qcow2"}],
        "nics": [{"source_network": "VM Network", "network": "default", "mac": "00:50:56:01:02:03",
                  "model": "virtio"}],
        "cdroms": [{"bus": "ide", "dev": "hda"}],
        "controllers": ["virtio-scsi"],
    }


def test_compat_keeps_an_ide_disk_of_a_bios_guest_on_ide() -> None:
    """IDE is the most widely supported bus: --compat moves SCSI and NVMe disks to SATA and leaves IDE as it is."""
    chosen = choose(guest((disk("ide", "a.vmdk"), disk("scsi", "b.vmdk"))), compat=True)
    assert [(d.bus, d.dev) for d in chosen.disks] == [("ide", "hda"), ("sata", "sda")]
