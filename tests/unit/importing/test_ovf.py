"""importing.ovf: OVF 1.0 / 2.0 descriptors (VMware ovftool, VirtualBox, appliances) into SourceGuest values."""

from __future__ import annotations

from pathlib import Path

import pytest

from balancerd.errors import ImportSourceError
from balancerd.importing import ovf
from balancerd.importing.ovfpackage import OVF1, OVF2, Reference
from balancerd.importing.source import SourceCdrom, SourceDisk, SourceGuest, SourceNic

DATA = Path(__file__).parent / "data" / "ovf"
GiB = 2**30
STREAM = "http://www.vmware.com/interfaces/specifications/vmdk.html#streamOptimized"
RASD = ('xmlns:rasd="http://schemas.dmtf.org/wbem/wscim/1/cim-schema/2/CIM_ResourceAllocationSettingData" '
        'xmlns:vmw="http://www.vmware.com/schema/ovf"')
CPU = "<Item><rasd:InstanceID>1</rasd:InstanceID><rasd:ResourceType>3</rasd:ResourceType>" \
      "<rasd:VirtualQuantity>2</rasd:VirtualQuantity></Item>"
MEMORY = "<Item><rasd:AllocationUnits>byte * 2^20</rasd:AllocationUnits><rasd:InstanceID>2</rasd:InstanceID>" \
         "<rasd:ResourceType>4</rasd:ResourceType><rasd:VirtualQuantity>1024</rasd:VirtualQuantity></Item>"
SCSI = "<Item><rasd:InstanceID>3</rasd:InstanceID><rasd:ResourceSubType>lsilogic</rasd:ResourceSubType>" \
       "<rasd:ResourceType>6</rasd:ResourceType></Item>"
DISK = "<Item><rasd:HostResource>ovf:/disk/vmdisk1</rasd:HostResource><rasd:InstanceID>4</rasd:InstanceID>" \
       "<rasd:Parent>3</rasd:Parent><rasd:ResourceType>17</rasd:ResourceType></Item>"
FILES = '<References><File ovf:href="t1-disk1.vmdk" ovf:id="file1"/></References>'
DISKS = f'<DiskSection><Info>disks</Info><Disk ovf:capacity="1073741824" ovf:diskId="vmdisk1" ' \
        f'ovf:fileRef="file1" ovf:format="{STREAM}"/></DiskSection>'


def envelope(items: str = CPU + MEMORY + SCSI + DISK, *, files: str = FILES, disks: str = DISKS,
             system: str = 'ovf:id="t1"', hardware: str = "", ns: str = OVF1) -> str:
    """A small descriptor: References, DiskSection and one VirtualSystem with the given Items."""
    return (f'<?xml version="1.0" encoding="UTF-8"?>\n<Envelope xmlns="{ns}" xmlns:ovf="{ns}" {RASD}>\n{files}\n'
            f"{disks}\n<VirtualSystem {system}><Info>vm</Info><VirtualHardwareSection><Info>hw</Info>\n{items}\n"
            f"{hardware}</VirtualHardwareSection></VirtualSystem>\n</Envelope>\n")


def fixture(name: str) -> str:
    return (DATA / name).read_text(encoding="utf-8")


def test_a_vmware_ovf1_export_with_pvscsi_sata_nvme_uefi_two_nics_and_an_ide_cdrom() -> None:
    guest = ovf.parse(fixture("vmware-ovf1-web01.ovf"), "web01.ovf")
    assert guest == SourceGuest(
        format="ovf", name="web01", memory_bytes=8192 * 2**20, vcpus=4, firmware="uefi",
        disks=(SourceDisk(bus="scsi", file="web01-disk1.vmdk", format="vmdk", virtual_size_bytes=16 * GiB,
                          controller="pvscsi"),
               SourceDisk(bus="scsi", file="web01-disk2.vmdk", format="vmdk", virtual_size_bytes=100 * GiB,
                          controller="pvscsi"),
               SourceDisk(bus="sata", file="web01-disk3.vmdk", format="vmdk", virtual_size_bytes=8 * GiB,
                          controller="ahci"),
               SourceDisk(bus="nvme", file="web01-disk4.vmdk", format="vmdk", virtual_size_bytes=32 * GiB,
                          controller="nvme")),
        cdroms=(SourceCdrom(bus="ide", file="web01-file1.iso"),),
        nics=(SourceNic(network="VM Network", mac="00:50:56:ab:cd:ef", model="vmxnet3"),
              SourceNic(network="Backup Net", mac=None, model="e1000e")),
        sockets=2, cores_per_socket=2, guest_os="ubuntu64Guest")


def test_a_virtualbox_ovf2_export_reads_storage_and_ethernet_port_items() -> None:
    guest = ovf.parse(fixture("virtualbox-ovf2-buildbox.ovf"), "buildbox.ovf")
    assert guest == SourceGuest(
        format="ovf", name="buildbox", memory_bytes=3072 * 2**20, vcpus=2, firmware="bios",
        disks=(SourceDisk(bus="sata", file="buildbox-disk001.vmdk", format="vmdk", virtual_size_bytes=40 * GiB,
                          controller="ahci"),),
        cdroms=(SourceCdrom(bus="ide"),),
        nics=(SourceNic(network="NAT", mac=None, model="e1000"), SourceNic(network="NAT", mac=None, model="virtio")),
        guest_os="Debian_64")


def test_gzip_and_chunked_files_of_the_references_reach_the_disks() -> None:
    guest = ovf.parse(fixture("chunked-gzip-db02.ovf"), "db02.ovf")
    assert guest.disks == (
        SourceDisk(bus="scsi", file="db02-disk1.vmdk", format="vmdk", virtual_size_bytes=64 * GiB,
                   controller="lsisas1068", compression="gzip", chunk_size=2 * GiB),
        SourceDisk(bus="scsi", file="db02-disk2.vmdk", format="vmdk", virtual_size_bytes=2 * GiB,
                   controller="lsisas1068", compression="gzip"),
        # ovf:capacity="${data.disk.size}" is set at deployment: 0, qemu-img measures the file
        SourceDisk(bus="scsi", file="data/db02-disk3.vmdk", format="vmdk", controller="lsilogic",
                   chunk_size=GiB))
    assert (guest.memory_bytes, guest.vcpus, guest.firmware) == (16 * GiB, 8, "bios")
    assert guest.nics == (SourceNic(network="DB Net", mac=None, model="vlance"),)
    assert (guest.guest_os, guest.sockets, guest.cores_per_socket) == ("rhel8_64Guest", 0, 0)


def test_references_lists_every_file_with_size_compression_and_chunks() -> None:
    assert ovf.references(fixture("chunked-gzip-db02.ovf")) == (
        Reference("file1", "db02-disk1.vmdk", 5 * GiB, "gzip", 2 * GiB),
        Reference("file2", "db02-disk2.vmdk", 2**20, "gzip", 0),
        Reference("file3", "data/db02-disk3.vmdk", 4 * GiB, "", GiB))


def test_a_snapshot_bearing_export_lists_the_current_disks_and_hardware_only() -> None:
    guest = ovf.parse(fixture("virtualbox-snapshots-lab03.ovf"), "lab03.ovf")
    # the snapshot "before-upgrade" had 2 vCPUs, 1 GiB, BIOS and another disk image: none of it is read
    assert guest.disks == (SourceDisk(bus="scsi", file="lab03-disk001.vmdk", format="vmdk",
                                      virtual_size_bytes=20 * GiB, controller="lsilogic"),)
    assert (guest.vcpus, guest.memory_bytes, guest.firmware, guest.guest_os) == (1, 2 * GiB, "uefi", "RedHat_64")


def test_a_delta_disk_of_a_snapshot_chain_is_refused() -> None:
    with pytest.raises(ImportSourceError, match=r"^app04\.ovf: disk 'vmdisk1-delta' is a delta of disk 'vmdisk1' "
                       r"\(ovf:parentRef, a snapshot chain\); consolidate the snapshots"):
        ovf.parse(fixture("delta-chain-app04.ovf"), "app04.ovf")


def test_the_default_deployment_configuration_and_normal_bounds_are_read() -> None:
    guest = ovf.parse(fixture("appliance-configurations-mon05.ovf"), "mon05.ovf")
    assert (guest.vcpus, guest.sockets, guest.cores_per_socket, guest.memory_bytes) == (8, 2, 4, 32 * GiB)
    assert guest.nics == (SourceNic(network="Monitoring", mac=None, model="vmxnet3"),)
    assert guest.disks[0].controller == "buslogic"


def test_without_a_default_configuration_the_first_one_is_read() -> None:
    text = fixture("appliance-configurations-mon05.ovf").replace('ovf:default="true" ', "")
    guest = ovf.parse(text)
    assert (guest.vcpus, guest.memory_bytes, guest.nics) == (2, 4 * GiB, ())


@pytest.mark.parametrize(("name", "message", "line"), [
    ("malformed-truncated.ovf", r"^malformed-truncated\.ovf line 34: not well-formed XML \(no element found", 34),
    ("malformed-memory-lots.ovf", r"^malformed-memory-lots\.ovf: the memory quantity 'lots' is not a number; "
     r"give the memory Item", None),
    ("malformed-unknown-fileref.ovf", r"^malformed-unknown-fileref\.ovf: disk 'vmdisk1' has ovf:fileRef 'file9', "
     r"which names no File of the References; export the VM with its disk files", None),
])
def test_malformed_fixtures_name_the_file_the_problem_and_the_fix(name: str, message: str, line: int | None) -> None:
    with pytest.raises(ImportSourceError, match=message) as info:
        ovf.parse(fixture(name), name)
    assert info.value.line == line and info.value.path == name and info.value.fix


def test_a_parse_error_is_chained_to_the_xml_error() -> None:
    with pytest.raises(ImportSourceError) as info:
        ovf.parse("<Envelope>\n<oops>\n</Envelope>", "x.ovf")
    assert info.value.line == 3 and type(info.value.__cause__).__name__ == "ParseError"


def test_ovf2_envelope_attributes_are_read_in_the_ovf2_namespace() -> None:
    guest = ovf.parse(envelope(ns=OVF2))
    assert (guest.name, guest.disks[0].file, guest.disks[0].virtual_size_bytes) == ("t1", "t1-disk1.vmdk", GiB)


def with_memory_units(units: str, quantity: str = "1024") -> str:
    item = MEMORY.replace("byte * 2^20", units).replace(">1024<", f">{quantity}<")
    return envelope(CPU + item + SCSI + DISK)


@pytest.mark.parametrize(("units", "quantity", "expected"), [
    ("byte * 2^20", "1024", GiB), ("byte*2^20", "512", 512 * 2**20), ("MegaBytes", "3072", 3 * GiB),
    ("GigaBytes", "2", 2 * GiB), ("byte * 2^30", "4", 4 * GiB), ("KiloBytes", "1048576", GiB),
    ("bytes", "4096", 4096), ("byte * 10^6", "1000", 10**9), ("", "256", 256 * 2**20),
])
def test_memory_units(units: str, quantity: str, expected: int) -> None:
    text = with_memory_units(units, quantity)
    if not units:
        text = text.replace("<rasd:AllocationUnits></rasd:AllocationUnits>", "")
    assert ovf.parse(text).memory_bytes == expected


def test_unknown_memory_units_are_named() -> None:
    with pytest.raises(ImportSourceError, match=r"the memory AllocationUnits 'bushels' are not a unit"):
        ovf.parse(with_memory_units("bushels"))


@pytest.mark.parametrize(("subtype", "kind", "bus", "controller"), [
    ("VirtualSCSI", 6, "scsi", "pvscsi"), ("lsilogic", 6, "scsi", "lsilogic"), ("LsiLogic", 6, "scsi", "lsilogic"),
    ("lsilogicsas", 6, "scsi", "lsisas1068"), ("buslogic", 6, "scsi", "buslogic"),
    ("vmware.sata.ahci", 20, "sata", "ahci"), ("AHCI", 20, "sata", "ahci"),
    ("vmware.nvme.controller", 20, "nvme", "nvme"), ("LsiLogicSas", 20, "scsi", "lsisas1068"),
    ("", 5, "ide", "ide"), ("PIIX4", 5, "ide", "ide"),
])
def test_controllers_give_bus_and_model(subtype: str, kind: int, bus: str, controller: str) -> None:
    item = SCSI.replace(">lsilogic<", f">{subtype}<").replace("<rasd:ResourceType>6<", f"<rasd:ResourceType>{kind}<")
    disk = ovf.parse(envelope(CPU + MEMORY + item + DISK)).disks[0]
    assert (disk.bus, disk.controller) == (bus, controller)


@pytest.mark.parametrize(("subtype", "model"), [
    ("VmxNet3", "vmxnet3"), ("E1000", "e1000"), ("E1000e", "e1000e"), ("PCNet32", "vlance"), ("", ""),
])
def test_nic_models_are_lower_case(subtype: str, model: str) -> None:
    nic = f"<Item><rasd:InstanceID>9</rasd:InstanceID><rasd:ResourceSubType>{subtype}</rasd:ResourceSubType>" \
          "<rasd:ResourceType>10</rasd:ResourceType></Item>"
    assert ovf.parse(envelope(CPU + MEMORY + SCSI + DISK + nic)).nics == (SourceNic(network="", mac=None,
                                                                                     model=model),)


@pytest.mark.parametrize(("uri", "href", "expected"), [
    (STREAM, "a.vmdk", "vmdk"), ("http://www.vmware.com/interfaces/specifications/vmdk.html#sparse", "a", "vmdk"),
    ("http://technet.microsoft.com/en-us/virtualserver/bb676673.aspx", "a.vhd", "vhd"),
    ("http://www.microsoft.com/vhdx", "a.bin", "vhdx"), ("http://www.gnome.org/~markmc/qcow-image-format.html",
                                                         "a.img", "qcow2"),
    ("", "a.raw", "raw"), ("", "a.img", "raw"), ("urn:unknown", "a.bin", ""),
])
def test_disk_formats_from_the_format_uri_then_the_file_name(uri: str, href: str, expected: str) -> None:
    files = FILES.replace("t1-disk1.vmdk", href)
    disks = DISKS.replace(STREAM, uri)
    assert ovf.parse(envelope(files=files, disks=disks)).disks[0].format == expected


@pytest.mark.parametrize(("hardware", "expected"), [
    ('<vmw:Config ovf:required="false" vmw:key="firmware" vmw:value="efi"/>', "uefi"),
    ('<vmw:Config ovf:required="false" ovf:key="firmware" ovf:value="efi"/>', "uefi"),
    ('<vmw:Config ovf:required="false" vmw:key="firmware" vmw:value="bios"/>', "bios"),
    ('<vmw:Config ovf:required="false" vmw:key="nestedHVEnabled" vmw:value="true"/>', "bios"),
    ("", "bios"),
])
def test_firmware(hardware: str, expected: str) -> None:
    assert ovf.parse(envelope(hardware=hardware)).firmware == expected


def test_an_item_firmware_config_is_not_the_vm_firmware() -> None:
    scsi = SCSI.replace("</Item>", '<vmw:Config ovf:required="false" vmw:key="firmware" vmw:value="efi"/></Item>')
    assert ovf.parse(envelope(CPU + MEMORY + scsi + DISK)).firmware == "bios"


@pytest.mark.parametrize(("system", "name", "guest_os"), [
    ('ovf:id="t1"><Name>display name</Name', "t1", ""),
    ("><Name>from-name</Name", "from-name", ""),
    ('ovf:id="t1"><OperatingSystemSection ovf:id="1" vmw:osType="windows9Server64Guest"><Info>os</Info>'
     "<Description>Windows Server 2019</Description></OperatingSystemSection", "t1", "windows9Server64Guest"),
    ('ovf:id="t1"><OperatingSystemSection ovf:id="1"><Info>os</Info><Description>Debian_64</Description>'
     "</OperatingSystemSection", "t1", "Debian_64"),
])
def test_name_and_guest_os(system: str, name: str, guest_os: str) -> None:
    guest = ovf.parse(envelope(system=system))
    assert (guest.name, guest.guest_os) == (name, guest_os)


def test_a_cdrom_without_an_image_and_a_nic_without_automatic_allocation_are_listed() -> None:
    ide = "<Item><rasd:InstanceID>5</rasd:InstanceID><rasd:ResourceType>5</rasd:ResourceType></Item>"
    cdrom = '<Item ovf:required="false"><rasd:AutomaticAllocation>false</rasd:AutomaticAllocation>' \
            "<rasd:InstanceID>6</rasd:InstanceID><rasd:Parent>5</rasd:Parent>" \
            "<rasd:ResourceType>16</rasd:ResourceType></Item>"
    nic = "<Item><rasd:AutomaticAllocation>false</rasd:AutomaticAllocation><rasd:Connection>lan</rasd:Connection>" \
          "<rasd:InstanceID>7</rasd:InstanceID><rasd:ResourceSubType>E1000</rasd:ResourceSubType>" \
          "<rasd:ResourceType>10</rasd:ResourceType></Item>"
    guest = ovf.parse(envelope(CPU + MEMORY + SCSI + DISK + ide + cdrom + nic))
    assert guest.cdroms == (SourceCdrom(bus="ide", file=""),)
    assert guest.nics == (SourceNic(network="lan", mac=None, model="e1000"),)


TWO_SYSTEMS = envelope().replace("<VirtualSystem ", "<VirtualSystemCollection ovf:id=\"vapp\"><Info>c</Info>"
                                 "<VirtualSystem ovf:id=\"db\"><Info>vm</Info></VirtualSystem><VirtualSystem ", 1)
TWO_SYSTEMS = TWO_SYSTEMS.replace("</VirtualSystem>\n</Envelope>", "</VirtualSystem></VirtualSystemCollection>\n"
                                  "</Envelope>")


@pytest.mark.parametrize(("text", "message"), [
    (envelope().replace('<VirtualSystem ovf:id="t1"><Info>vm</Info><VirtualHardwareSection><Info>hw</Info>',
                        "<x>").replace("</VirtualHardwareSection></VirtualSystem>", "</x>"),
     r"the envelope holds no VirtualSystem"),
    (TWO_SYSTEMS, r"the VirtualSystemCollection holds 2 guests \('db', 't1'\); only one guest per import"),
    (envelope(ns="http://www.vmware.com/schema/ovf/1/envelope"),
     r"the root element is '\{http://www\.vmware\.com/schema/ovf/1/envelope\}Envelope', not an OVF 1\.x or 2\.x"),
    (envelope(system=""), r"the VirtualSystem has neither an ovf:id nor a Name"),
    (envelope().replace("<VirtualHardwareSection><Info>hw</Info>", "<x>").replace("</VirtualHardwareSection>",
                                                                                   "</x>"),
     r"the VirtualSystem 't1' has no VirtualHardwareSection"),
    (envelope(MEMORY + SCSI + DISK), r"the VirtualHardwareSection has no CPU Item \(rasd:ResourceType 3\); add one"),
    (envelope(CPU + SCSI + DISK), r"the VirtualHardwareSection has no memory Item \(rasd:ResourceType 4\); add one"),
    (envelope(CPU + MEMORY + SCSI), r"the VirtualHardwareSection has no disk \(no Item with rasd:ResourceType 17\)"),
    (envelope(CPU.replace(">2<", ">two<") + MEMORY + SCSI + DISK), r"the CPU quantity 'two' is not a number"),
    (envelope(CPU.replace("</Item>", "<vmw:CoresPerSocket>3</vmw:CoresPerSocket></Item>") + MEMORY + SCSI + DISK),
     r"2 vCPUs with 3 cores per socket is not a CPU topology"),
    (envelope(CPU + MEMORY + SCSI + DISK.replace("vmdisk1", "vmdisk9")),
     r"the Item with InstanceID 4 has HostResource 'ovf:/disk/vmdisk9', which names no Disk of the DiskSection"),
    (envelope(CPU + MEMORY + SCSI + DISK.replace("<rasd:Parent>3<", "<rasd:Parent>8<")),
     r"the Item with InstanceID 4 names controller '8' \(rasd:Parent\), which is not a disk controller"),
    (envelope(CPU + MEMORY + SCSI.replace(">lsilogic<", ">vmware.floppy<").replace(">6<", ">20<") + DISK),
     r"the Item with InstanceID 4 hangs on controller '3', a storage controller of a kind balancerd does "
     r"not know"),
    (envelope(CPU.replace(">3<", ">cpu<") + MEMORY + SCSI + DISK),
     r"the Item with InstanceID 1 has ResourceType 'cpu', not a number"),
    (envelope(disks=DISKS.replace('"1073741824"', '"lots"')), r"the ovf:capacity of disk 'vmdisk1' 'lots' is not"),
    (envelope(disks=DISKS.replace('ovf:diskId', 'ovf:capacityAllocationUnits="sectors" ovf:diskId')),
     r"the ovf:capacity of disk 'vmdisk1' is in units 'sectors', which balancerd does not know"),
    (envelope(files=FILES.replace("t1-disk1.vmdk", "../../etc/shadow")),
     r"File 'file1' has ovf:href '\.\./\.\./etc/shadow', which points outside the package's folder"),
    (envelope(files=FILES.replace("t1-disk1.vmdk", "/var/lib/disk.vmdk")),
     r"File 'file1' has ovf:href '/var/lib/disk\.vmdk', which points outside"),
    (envelope(files=FILES.replace("t1-disk1.vmdk", "C:\\exports\\disk.vmdk")),
     r"File 'file1' has ovf:href 'C:.*', which points outside"),
    (envelope(files=FILES.replace("t1-disk1.vmdk", "https://example.com/d.vmdk")),
     r"File 'file1' has ovf:href 'https://example\.com/d\.vmdk'; balancerd imports files of the package, not URLs"),
    (envelope(files=FILES.replace("/>", ' ovf:compression="bzip2"/>')),
     r"File 'file1' has ovf:compression 'bzip2'; only gzip"),
    (envelope(files=FILES.replace("/>", ' ovf:chunkSize="big"/>')), r"the ovf:chunkSize of File 'file1' 'big'"),
    (envelope(disks=DISKS.replace(' ovf:fileRef="file1"', "")), r"disk 'vmdisk1' has ovf:fileRef '', which names no"),
    (envelope(hardware='<vmw:Config vmw:key="firmware" vmw:value="coreboot"/>'),
     r"the vmw:Config firmware value 'coreboot' is neither efi nor bios"),
])
def test_errors_name_the_file_and_what_is_wrong(text: str, message: str) -> None:
    with pytest.raises(ImportSourceError, match=r"^t1\.ovf: " + message) as info:
        ovf.parse(text, "t1.ovf")
    assert info.value.fix and info.value.line is None


def test_a_doctype_is_refused_before_parsing_with_its_line() -> None:
    text = envelope().replace("<Envelope", '<!DOCTYPE Envelope [<!ENTITY a "aaaa">]>\n<Envelope', 1)
    with pytest.raises(ImportSourceError, match=r"^t1\.ovf line 2: the descriptor declares a DOCTYPE") as info:
        ovf.parse(text, "t1.ovf")
    assert info.value.line == 2
