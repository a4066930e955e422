"""importing.vmx: VMware .vmx files as ESXi, Workstation and Fusion write them, and the errors for broken ones."""

from __future__ import annotations

from pathlib import Path

import pytest

from balancerd.errors import ImportSourceError
from balancerd.importing.source import SourceCdrom, SourceDisk, SourceGuest, SourceNic
from balancerd.importing.vmx import decode, parse, read_entries

DATA = Path(__file__).parent / "data"
MIB = 1024 * 1024
ISO = "ubuntu-22.04.3-live-server-amd64.iso"
MINIMAL = 'memsize = "1024"\nscsi0.present = "TRUE"\nscsi0:0.present = "TRUE"\nscsi0:0.fileName = "g.vmdk"\n'


def load(name: str) -> SourceGuest:
    path = DATA / name
    return parse(decode(path.read_bytes(), str(path)), str(path))


def test_an_esxi_uefi_guest() -> None:
    guest = load("web-uefi.vmx")
    assert guest == SourceGuest(
        format="vmx", name="web", memory_bytes=4096 * MIB, vcpus=4, firmware="uefi",
        disks=(SourceDisk(bus="scsi", file="web.vmdk", format="vmdk", controller="pvscsi"),),
        cdroms=(SourceCdrom(bus="sata", file=f"/vmfs/volumes/5f1e2a3b-0c4d5e6f/iso/{ISO}"),),
        nics=(SourceNic(network="VM Network", mac="00:50:56:a0:12:34", model="vmxnet3"),),
        sockets=2, cores_per_socket=2, guest_os="ubuntu-64")


def test_several_controllers_disks_in_bus_controller_unit_order() -> None:
    guest = load("db-multi.vmx")
    assert guest.disks == (
        SourceDisk(bus="scsi", file="db1-000002.vmdk", format="vmdk", controller="pvscsi"),
        SourceDisk(bus="scsi", file="db1_1.vmdk", format="vmdk", controller="pvscsi"),
        SourceDisk(bus="scsi", file="/vmfs/volumes/datastore2/db1/db1_2.vmdk", format="vmdk", controller="lsilogic"),
        SourceDisk(bus="scsi", file="db1_3.vmdk", format="vmdk", controller="lsilogic"),
        SourceDisk(bus="nvme", file="db1_log.vmdk", format="vmdk", controller="nvme"),
    )


def test_devices_switched_off_or_on_an_absent_controller_are_left_out() -> None:
    files = [disk.file for disk in load("db-multi.vmx").disks]
    assert "db1_old.vmdk" not in files  # scsi0:2.present = "FALSE"
    assert "db1_detached.vmdk" not in files  # scsi2.present = "FALSE"


def test_cdroms_keep_an_image_but_not_a_host_drive() -> None:
    assert load("db-multi.vmx").cdroms == (
        SourceCdrom(bus="sata", file="/vmfs/volumes/datastore1/iso/rhel-8.9-x86_64-dvd.iso"),
        SourceCdrom(bus="ide", file=""),
    )


def test_nics_static_generated_and_switched_off() -> None:
    assert load("db-multi.vmx").nics == (
        SourceNic(network="DB Backend", mac="00:50:56:3f:00:10", model="vmxnet3"),
        SourceNic(network="Management VLAN 20", mac="00:0c:29:5e:41:7a", model="e1000e"),
    )


def test_escapes_topology_and_firmware_of_the_multi_disk_guest() -> None:
    guest = load("db-multi.vmx")
    assert (guest.name, guest.memory_bytes, guest.vcpus, guest.sockets, guest.cores_per_socket) == (
        'db1 "primary"', 16384 * MIB, 8, 2, 4)
    assert (guest.firmware, guest.guest_os) == ("uefi", "rhel8-64")


def test_a_workstation_guest_in_windows_1252_with_crlf() -> None:
    guest = load("workstation-bios.vmx")
    assert guest.name == "Büro XP"
    assert (guest.firmware, guest.vcpus, guest.sockets, guest.cores_per_socket) == ("bios", 1, 0, 0)
    assert guest.disks == (SourceDisk(bus="ide", file="Windows XP Professional.vmdk", format="vmdk", controller="ide"),)
    assert guest.cdroms == (SourceCdrom(bus="ide", file=""),)
    assert guest.nics == (SourceNic(network="nat", mac="00:0c:29:3b:64:ea", model="e1000"),
                          SourceNic(network="VMnet2", mac=None, model="vlance"),
                          SourceNic(network="bridged", mac=None, model="e1000"))


def test_values_keep_their_escapes_decoded_and_keys_lose_their_case() -> None:
    entries = read_entries(decode((DATA / "workstation-bios.vmx").read_bytes()), "w.vmx")
    assert entries["annotation"].value == "Buchhaltung, Raum 2.14 | nicht löschen"
    assert entries["displayname"].line == 4


@pytest.mark.parametrize(("lines", "network"), [
    ('ethernet0.networkName = "Prod"\nethernet0.connectionType = "bridged"\n', "Prod"),
    ('ethernet0.dvs.portgroupId = "dvportgroup-1285"\nethernet0.dvs.switchId = "50 34 26 b2"\n', "dvportgroup-1285"),
    ('ethernet0.connectionType = "custom"\nethernet0.vnet = "VMnet3"\n', "VMnet3"),
    ('ethernet0.connectionType = "hostonly"\n', "hostonly"),
    ("", "bridged"),
])
def test_the_network_of_an_adapter(lines: str, network: str) -> None:
    guest = parse(MINIMAL + 'ethernet0.present = "TRUE"\n' + lines)
    assert [nic.network for nic in guest.nics] == [network]


@pytest.mark.parametrize(("lines", "mac"), [
    ('ethernet0.addressType = "static"\nethernet0.address = "00:50:56:01:02:03"\n'
     'ethernet0.generatedAddress = "00:0c:29:00:00:01"\n', "00:50:56:01:02:03"),
    ('ethernet0.addressType = "Static"\nethernet0.address = "00-50-56-0A-0B-0C"\n', "00:50:56:0a:0b:0c"),
    ('ethernet0.addressType = "generated"\nethernet0.generatedAddress = "00:0C:29:AB:CD:EF"\n', "00:0c:29:ab:cd:ef"),
    ('ethernet0.addressType = "vpx"\nethernet0.generatedAddress = "00:50:56:87:65:43"\n', "00:50:56:87:65:43"),
    ('ethernet0.generatedAddress = "00:0c:29:00:00:02"\n', "00:0c:29:00:00:02"),
    ('ethernet0.addressType = "generated"\n', None),
])
def test_the_mac_of_an_adapter(lines: str, mac: str | None) -> None:
    assert [nic.mac for nic in parse(MINIMAL + 'ethernet0.present = "TRUE"\n' + lines).nics] == [mac]


@pytest.mark.parametrize(("device", "bus", "controller"), [
    ('scsi0.present = "TRUE"\nscsi0.virtualDev = "LsiLogic"\nscsi0:0.present = "TRUE"\n', "scsi", "lsilogic"),
    ('scsi0.present = "TRUE"\nscsi0.virtualDev = "lsisas1068"\nscsi0:0.present = "TRUE"\n', "scsi", "lsisas1068"),
    ('scsi0.present = "TRUE"\nscsi0.virtualDev = "buslogic"\nscsi0:0.present = "TRUE"\n', "scsi", "buslogic"),
    ('scsi0.present = "TRUE"\nscsi0:0.present = "TRUE"\n', "scsi", ""),
    ('sata0.present = "TRUE"\nsata0:0.present = "TRUE"\n', "sata", "ahci"),
    ('nvme0.present = "TRUE"\nnvme0:0.present = "TRUE"\n', "nvme", "nvme"),
    ('ide0:0.present = "true"\nide0:0.deviceType = "ata-hardDisk"\n', "ide", "ide"),
])
def test_the_bus_and_controller_of_a_disk(device: str, bus: str, controller: str) -> None:
    guest = parse(f'memsize = "512"\n{device}{bus}0:0.fileName = "g.vmdk"\n')
    assert guest.disks == (SourceDisk(bus=bus, file="g.vmdk", format="vmdk", controller=controller),)


@pytest.mark.parametrize(("file", "fmt"), [
    ("web-000001.vmdk", "vmdk"), ("OLD.DSK", "vmdk"), ("disk", "vmdk"), ("C:\\VMs\\x.y\\disk.vmdk", "vmdk"),
    ("flat.raw", "raw"),
])
def test_the_format_of_a_disk_comes_from_its_extension(file: str, fmt: str) -> None:
    guest = parse(MINIMAL.replace("g.vmdk", file))
    assert (guest.disks[0].file, guest.disks[0].format) == (file, fmt)


def test_the_bios_hdd_order_disk_comes_first() -> None:
    text = MINIMAL + 'nvme0.present = "TRUE"\nnvme0:0.present = "TRUE"\nnvme0:0.fileName = "boot.vmdk"\n'
    assert [d.file for d in parse(text).disks] == ["g.vmdk", "boot.vmdk"]
    assert [d.file for d in parse(text + 'bios.hddOrder = "nvme0:0"\n').disks] == ["boot.vmdk", "g.vmdk"]


def test_without_display_name_the_file_names_the_guest() -> None:
    assert parse(MINIMAL, "/exports/mail server.vmx").name == "mail server"


def test_a_repeated_key_keeps_its_last_value_and_comments_are_skipped() -> None:
    guest = parse('# header\nnumvcpus = "2"\n  # indented comment\n\nnumvcpus = "6"  # six\n' + MINIMAL)
    assert guest.vcpus == 6


@pytest.mark.parametrize(("fixture", "match", "line"), [
    ("bad-memsize.vmx", r"bad-memsize\.vmx line 4: memsize: got 'lots'; a positive whole number of MiB", 4),
    ("bare-line.vmx", r"bare-line\.vmx line 5: 'scsi0:0\.present \"TRUE\"' is not key = \"value\"", 5),
    ("no-disk.vmx", r"no-disk\.vmx: no disk is present; a guest needs at least one disk", None),
    ("absent-controller.vmx", r"absent-controller\.vmx line 5: no disk is present: scsi0:0 is on scsi0, which is "
     r"not present; set scsi0\.present = \"TRUE\"", 5),
])
def test_broken_fixtures_name_the_file_the_line_and_the_fix(fixture: str, match: str, line: int | None) -> None:
    with pytest.raises(ImportSourceError, match=match) as info:
        load(fixture)
    assert info.value.line == line
    assert info.value.path.endswith(fixture)


@pytest.mark.parametrize(("text", "match"), [
    ('memsize = "0"\n', r"line 1: memsize: got '0'"),
    ('memsize = "-512"\n', r"line 1: memsize: got '-512'"),
    ('displayName = "x"\n', r"x\.vmx: memsize is missing; a positive whole number of MiB"),
    ('numvcpus = "two"\nmemsize = "1"\n', r"line 1: numvcpus: got 'two'; a positive whole number"),
    ('numvcpus = "6"\ncpuid.coresPerSocket = "4"\nmemsize = "1"\n',
     r"line 2: cpuid\.coresPerSocket: 4 does not divide numvcpus 6"),
    ('memsize = "1"\nscsi0.present = "TRUE"\nscsi0:0.present = "TRUE"\n',
     r"line 3: the disk scsi0:0 has no fileName; add scsi0:0\.fileName"),
    ('memsize = "1"\nscsi0.present = "yes"\nscsi0:0.present = "TRUE"\n', r"line 2: scsi0\.present: got 'yes'"),
    ('displayName = "unterminated\n', r"line 1: the value '\"unterminated' has no closing quote"),
    ('displayName = "a" "b"\n', r"line 1: '\"b\"' follows the closing quote"),
    ('my key = "a"\n', r"line 1: 'my key = \"a\"' is not key = \"value\""),
    (MINIMAL + 'scsi0:1.present = "TRUE"\nscsi0:1.deviceType = "scsi-passthru"\n',
     r"line 6: scsi0:1 is a SCSI device of the VMware host passed through"),
    (MINIMAL + 'scsi0:1.present = "TRUE"\nscsi0:1.deviceType = "rawDisk"\n', r"line 6: scsi0:1 is a physical disk"),
    (MINIMAL + 'scsi0:1.present = "TRUE"\nscsi0:1.deviceType = "tape"\n', r"line 6: scsi0:1 is the device type 'tape'"),
    (MINIMAL + 'ethernet0.present = "TRUE"\nethernet0.addressType = "static"\n',
     r"line 6: ethernet0\.addressType is \"static\" but ethernet0\.address is missing"),
    (MINIMAL + 'ethernet0.present = "TRUE"\nethernet0.generatedAddress = "00:0c:29"\n',
     r"line 6: ethernet0: the MAC address '00:0c:29' is not six hex pairs"),
])
def test_broken_values_name_the_key_and_the_line(text: str, match: str) -> None:
    with pytest.raises(ImportSourceError, match=match):
        parse(text, "x.vmx")


@pytest.mark.parametrize(("data", "text"), [
    ('.encoding = "UTF-8"\ndisplayName = "Zürich"\n'.encode(), 'displayName = "Zürich"'),
    (b'\xef\xbb\xbf.encoding = "UTF-8"\nmemsize = "1"\n', '.encoding = "UTF-8"'),
    ('.encoding = "windows-1252"\ndisplayName = "Café"\n'.encode("cp1252"), 'displayName = "Café"'),
    ('.encoding = "Shift_JIS"\ndisplayName = "仮想マシン"\n'.encode("shift_jis"), 'displayName = "仮想マシン"'),
    (b'displayName = "plain"\n', 'displayName = "plain"'),
])
def test_decode_follows_the_encoding_line(data: bytes, text: str) -> None:
    assert text in decode(data, "x.vmx").split("\n")


def test_decode_refuses_an_unknown_encoding_and_bytes_that_do_not_fit() -> None:
    with pytest.raises(ImportSourceError, match=r"x\.vmx line 2: \.encoding: got 'klingon'") as unknown:
        decode(b'config.version = "8"\n.encoding = "klingon"\n', "x.vmx")
    assert isinstance(unknown.value.__cause__, LookupError)
    with pytest.raises(ImportSourceError, match=r"x\.vmx line 1: the file is not valid UTF-8 \(at byte offset 28\)") \
            as bad:
        decode(b'.encoding = "UTF-8"\nname = "\xfc"\n', "x.vmx")
    assert isinstance(bad.value.__cause__, UnicodeDecodeError)
