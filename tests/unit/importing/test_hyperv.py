"""importing.hyperv: a .vhdx / .vhd plus the operator's TOML spec, the refusal of .vmcx, the spec's default path."""

from __future__ import annotations

from pathlib import Path

import pytest

from balancerd.errors import ImportSourceError
from balancerd.importing.hyperv import default_spec_path, line_of, parse_spec, refuse_vmcx
from balancerd.importing.source import SourceDisk, SourceGuest, SourceNic

DATA = Path(__file__).parent / "data"
MIB = 1024 * 1024


def load(name: str, disk: str) -> SourceGuest:
    path = DATA / name
    return parse_spec(path.read_text(), str(path), disk)


def test_a_generation_2_guest() -> None:
    assert load("hyperv-gen2.toml", "web1.vhdx") == SourceGuest(
        format="vhdx", name="web1", memory_bytes=2048 * MIB, vcpus=2, firmware="uefi",
        disks=(SourceDisk(bus="scsi", file="web1.vhdx", format="vhdx", controller="storvsc"),
               SourceDisk(bus="scsi", file="web1-data.vhdx", format="vhdx", controller="storvsc")),
        nics=(SourceNic(network="External", mac="00:15:5d:01:02:03", model="netvsc"),
              SourceNic(network="Backup", mac="00:15:5d:0a:0b:0c", model="netvsc")),
        sockets=1, cores_per_socket=2, guest_os="windows2019")


def test_a_generation_1_guest_named_after_its_disk() -> None:
    assert load("hyperv-gen1.toml", "Virtual Hard Disks/legacy-app.VHD") == SourceGuest(
        format="vhd", name="legacy-app", memory_bytes=1024 * MIB, vcpus=1, firmware="bios",
        disks=(SourceDisk(bus="ide", file="Virtual Hard Disks/legacy-app.VHD", format="vhd", controller="ide"),
               SourceDisk(bus="scsi", file="logs.vhd", format="vhd", controller="storvsc")),
        nics=(SourceNic(network="Internal", mac=None, model="legacy"),))


@pytest.mark.parametrize(("lines", "firmware", "bus"), [
    ('firmware = "uefi"', "uefi", "scsi"),
    ('firmware = "bios"', "bios", "ide"),
    ("generation = 2", "uefi", "scsi"),
    ("generation = 1", "bios", "ide"),
    ('generation = 2\nfirmware = "uefi"', "uefi", "scsi"),
    ('generation = 1\ndisk_bus = "scsi"', "bios", "scsi"),
    ("", "bios", "ide"),
])
def test_firmware_and_the_default_disk_bus(lines: str, firmware: str, bus: str) -> None:
    guest = parse_spec(f"memory_mib = 512\n{lines}\n", "s.toml", "g.vhdx")
    assert (guest.firmware, guest.disks[0].bus) == (firmware, bus)


@pytest.mark.parametrize("mac", ["00:15:5d:01:02:03", "00155D010203", "00-15-5D-01-02-03", "00:15:5D:01:02:03"])
def test_a_mac_in_any_of_its_forms(mac: str) -> None:
    guest = parse_spec(f'memory_mib = 512\n[[nics]]\nswitch = "sw"\nmac = "{mac}"\n', "s.toml", "g.vhdx")
    assert guest.nics == (SourceNic(network="sw", mac="00:15:5d:01:02:03", model="netvsc"),)


def test_an_unknown_key_is_named_with_its_line_and_the_allowed_keys() -> None:
    with pytest.raises(ImportSourceError) as info:
        load("hyperv-unknown-key.toml", "web1.vhdx")
    assert str(info.value) == (f"{DATA / 'hyperv-unknown-key.toml'} line 3: the spec has the unknown key 'vcpu'; "
                               "the keys are name, memory_mib, vcpus, cores_per_socket, firmware, generation, "
                               "disk_bus, guest_os, nics, disks")
    assert info.value.line == 3


@pytest.mark.parametrize(("text", "disk", "match"), [
    ('memory_mib = "lots"\n', "g.vhdx", r"s\.toml line 1: memory_mib: got 'lots'; a positive integer of MiB"),
    ("memory_mib = 0\n", "g.vhdx", r"line 1: memory_mib: got 0; a positive integer of MiB"),
    ("memory_mib = true\n", "g.vhdx", r"line 1: memory_mib: got True"),
    ('name = "x"\n', "g.vhdx", r"s\.toml: memory_mib is missing; a positive integer of MiB"),
    ("memory_mib = 1\nvcpus = 2.5\n", "g.vhdx", r"line 2: vcpus: got 2\.5; a positive integer"),
    ("memory_mib = 1\nvcpus = 6\ncores_per_socket = 4\n", "g.vhdx",
     r"line 3: cores_per_socket: got 4; a positive integer that divides vcpus \(6\)"),
    ('memory_mib = 1\nname = ""\n', "g.vhdx", r"line 2: name: got ''"),
    ("memory_mib = 1\ngeneration = 3\n", "g.vhdx", r"line 2: generation: got 3; 1 \(BIOS\) or 2 \(UEFI\)"),
    ('memory_mib = 1\nfirmware = "efi"\n', "g.vhdx", r"line 2: firmware: got 'efi'; \"uefi\""),
    ('memory_mib = 1\ngeneration = 2\nfirmware = "bios"\n', "g.vhdx",
     r"line 3: firmware: got 'bios'; generation 2 is 'uefi'"),
    ('memory_mib = 1\nfirmware = "uefi"\n', "g.vhd", r"line 2: firmware: got 'uefi'; .*boots only from a \.vhdx"),
    ('memory_mib = 1\ngeneration = 2\ndisk_bus = "ide"\n', "g.vhdx",
     r"line 3: disk_bus: got 'ide'; Hyper-V generation 2 \(UEFI\) has no IDE controller"),
    ('memory_mib = 1\ndisk_bus = "virtio"\n', "g.vhdx", r"line 2: disk_bus: got 'virtio'; one of scsi, ide"),
    ("memory_mib = 1\n", "g.vmdk", r"g\.vmdk: a Hyper-V disk is a \.vhdx or a \.vhd"),
    ("memory_mib = 1\nmemory_mib = 2\n", "g.vhdx", r"s\.toml line 2: not valid TOML: Cannot overwrite a value"),
    ('memory_mib = 1\nnics = "External"\n', "g.vhdx", r"line 2: nics: got 'External'; \[\[nics\]\] tables"),
    ('memory_mib = 1\n[[nics]]\nmac = "00155d010203"\n', "g.vhdx", r"s\.toml: nics #1 switch is missing"),
    ('memory_mib = 1\n[[nics]]\nswitch = "a"\n[[nics]]\nswitch = "b"\nvlan = 20\n', "g.vhdx",
     r"line 6: nics #2 has the unknown key 'vlan'; the keys are switch, mac, model"),
    ('memory_mib = 1\n[[nics]]\nswitch = "a"\nmac = "00:15:5d:01:02"\n', "g.vhdx",
     r"line 4: nics #1 mac: got '00:15:5d:01:02'; six hex pairs"),
    ('memory_mib = 1\n[[nics]]\nswitch = "a"\nmac = "00:15-5d:01:02:03"\n', "g.vhdx", r"line 4: nics #1 mac"),
    ('memory_mib = 1\n[[nics]]\nswitch = "a"\nmodel = "e1000"\n', "g.vhdx",
     r"line 4: nics #1 model: got 'e1000'; one of netvsc, legacy"),
    ('memory_mib = 1\n[[disks]]\nbus = "scsi"\n', "g.vhdx", r"s\.toml: disks #1 file is missing"),
    ('memory_mib = 1\n[[disks]]\nfile = "g.vhdx"\n', "g.vhdx", r"line 3: disks #1 file: got 'g\.vhdx'; .* other than"),
    ('memory_mib = 1\n[[disks]]\nfile = "d.qcow2"\n', "g.vhdx", r"line 3: disks #1 file: got 'd\.qcow2'"),
    ('memory_mib = 1\ngeneration = 2\n[[disks]]\nfile = "d.vhd"\n', "g.vhdx",
     r"line 4: disks #1 file: got 'd\.vhd'; Hyper-V generation 2 \(UEFI\) uses only \.vhdx disks"),
    ('memory_mib = 1\ngeneration = 2\n[[disks]]\nfile = "d.vhdx"\nbus = "ide"\n', "g.vhdx",
     r"line 5: disks #1 bus: got 'ide'; Hyper-V generation 2"),
])
def test_broken_specs_name_the_key_the_value_and_the_line(text: str, disk: str, match: str) -> None:
    with pytest.raises(ImportSourceError, match=match):
        parse_spec(text, "s.toml", disk)


def test_a_toml_syntax_error_keeps_its_cause() -> None:
    with pytest.raises(ImportSourceError) as info:
        parse_spec('memory_mib = 1\nname = "web1\n', "s.toml", "g.vhdx")
    assert info.value.line == 2
    assert info.value.__cause__ is not None


def test_data_disks_take_their_own_bus_or_the_disk_bus() -> None:
    text = 'memory_mib = 1\ndisk_bus = "ide"\n[[disks]]\nfile = "a.vhdx"\n[[disks]]\nfile = "b.vhdx"\nbus = "scsi"\n'
    assert [(d.file, d.bus, d.controller) for d in parse_spec(text, "s.toml", "g.vhdx").disks] == [
        ("g.vhdx", "ide", "ide"), ("a.vhdx", "ide", "ide"), ("b.vhdx", "scsi", "storvsc")]


@pytest.mark.parametrize(("text", "key", "table", "index", "line"), [
    ('name = "a"\nmemory_mib = 1\n', "memory_mib", "", 0, 2),
    ('[[nics]]\nswitch = "a"\n[[nics]]\n  switch = "b"\n', "switch", "nics", 1, 4),
    ('[[nics]]\nswitch = "a"\n', "switch", "", 0, None),
    ('[[disks]]\nfile = "a"\n[[nics]]\nfile = "x"\n', "file", "nics", 0, 4),
])
def test_line_of_finds_a_key_in_its_table(text: str, key: str, table: str, index: int, line: int | None) -> None:
    assert line_of(text, key, table, index) == line


@pytest.mark.parametrize(("path", "what"), [
    ("export/web1/Virtual Machines/4A1B2C3D-1111-2222-3333-444455556666.vmcx", ".vmcx"),
    ("export/web1/Virtual Machines/4A1B2C3D-1111-2222-3333-444455556666.VMRS", ".vmrs"),
])
def test_refuse_vmcx_says_what_to_give_instead(path: str, what: str) -> None:
    error = refuse_vmcx(path)
    assert isinstance(error, ImportSourceError)
    assert (error.path, error.line) == (path, None)
    assert error.problem == f"Hyper-V's {what} is a binary format balancerd cannot read"
    assert error.fix.startswith("export the VM")
    assert ".vhdx" in error.fix and "--spec FILE" in error.fix
    example = error.fix.split("e.g.\n", 1)[1]
    assert example.splitlines() == ["memory_mib = 2048", "vcpus = 2", "generation = 2", "[[nics]]",
                                    'switch = "External"']
    assert parse_spec(example, "example.toml", "web1.vhdx").nics == (SourceNic("External", None, "netvsc"),)


@pytest.mark.parametrize(("disk", "spec"), [
    (Path("/exports/web1/Virtual Hard Disks/web1.vhdx"), Path("/exports/web1/Virtual Hard Disks/web1.toml")),
    (Path("db.v2.VHD"), Path("db.v2.toml")),
    (Path("disk"), Path("disk.toml")),
])
def test_default_spec_path_is_the_disk_stem_beside_it(disk: Path, spec: Path) -> None:
    assert default_spec_path(disk) == spec
