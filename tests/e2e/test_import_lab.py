"""`balancerd import` on the real lab (issue 22): a bootable guest disk (SYSLINUX + the lab's kernel and
initramfs, :mod:`tests.e2e.bootdisk`) exported as a VMware VMX directory (monolithicSparse VMDK) and as an OVA
(streamOptimized VMDK, OVF, SHA256 manifest) is imported with ``--host auto --start``. The guest is converted,
uploaded into a pool through libvirt, defined on the host the optimizer chose, boots from its disk, ticks on its
serial console and sits on the mapped network ("VM Network" -> prod); it runs on exactly one host. A second
import of the same source is refused by name (exit 1, nothing created), and imported under ``--name``.

Uses the session ``lab``; every domain and volume the test created is removed at the end.
"""

from __future__ import annotations

import hashlib
import json
import subprocess
import tarfile
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from balancerd.lab import connect, paths

from . import bootdisk
from .conftest import TICK_TIMEOUT_S
from .libvirt_lab import BIN, ticks, wait_until, where

pytestmark = pytest.mark.e2e

IMPORT_TIMEOUT_S = 300.0
"""A 48 MiB disk converted and uploaded takes seconds; the collection before it a few more on a busy machine."""
RUNNING = 1  # libvirt VIR_DOMAIN_RUNNING

VMX = """.encoding = "UTF-8"
displayName = "{name}"
memsize = "{memsize}"
numvcpus = "1"
guestOS = "{guest_os}"
scsi0.present = "TRUE"
scsi0.virtualDev = "pvscsi"
scsi0:0.present = "TRUE"
scsi0:0.fileName = "{name}.vmdk"
ethernet0.present = "TRUE"
ethernet0.networkName = "VM Network"
ethernet0.virtualDev = "vmxnet3"
ethernet0.addressType = "static"
ethernet0.address = "{mac}"
"""
"""A VMX with one pvscsi disk ({name}.vmdk beside it) and one vmxnet3 NIC on "VM Network" (:func:`vmx_text`)."""


def vmx_text(name: str, mac: str, memsize_mib: int = 128, guest_os: str = "other5xlinux-64") -> str:
    return VMX.format(name=name, mac=mac, memsize=memsize_mib, guest_os=guest_os)

OVF = """<?xml version="1.0" encoding="UTF-8"?>
<Envelope xmlns="http://schemas.dmtf.org/ovf/envelope/1" xmlns:ovf="http://schemas.dmtf.org/ovf/envelope/1"
 xmlns:rasd="http://schemas.dmtf.org/wbem/wscim/1/cim-schema/2/CIM_ResourceAllocationSettingData"
 xmlns:vssd="http://schemas.dmtf.org/wbem/wscim/1/cim-schema/2/CIM_VirtualSystemSettingData">
  <References><File ovf:id="file1" ovf:href="{name}-disk1.vmdk" ovf:size="{size}"/></References>
  <DiskSection><Info>disks</Info>
    <Disk ovf:diskId="vmdisk1" ovf:fileRef="file1" ovf:capacity="{capacity}"
     ovf:format="http://www.vmware.com/interfaces/specifications/vmdk.html#streamOptimized"/>
  </DiskSection>
  <NetworkSection><Info>networks</Info><Network ovf:name="VM Network"><Description>lab</Description></Network>
  </NetworkSection>
  <VirtualSystem ovf:id="{name}"><Info>a lab guest</Info><Name>{name}</Name>
    <VirtualHardwareSection><Info>hardware</Info>
      <Item><rasd:ElementName>1 CPU</rasd:ElementName><rasd:InstanceID>1</rasd:InstanceID>
        <rasd:ResourceType>3</rasd:ResourceType><rasd:VirtualQuantity>1</rasd:VirtualQuantity></Item>
      <Item><rasd:AllocationUnits>byte * 2^20</rasd:AllocationUnits><rasd:ElementName>128 MB</rasd:ElementName>
        <rasd:InstanceID>2</rasd:InstanceID><rasd:ResourceType>4</rasd:ResourceType>
        <rasd:VirtualQuantity>128</rasd:VirtualQuantity></Item>
      <Item><rasd:ElementName>SCSI 0</rasd:ElementName><rasd:InstanceID>3</rasd:InstanceID>
        <rasd:ResourceSubType>lsilogic</rasd:ResourceSubType><rasd:ResourceType>6</rasd:ResourceType></Item>
      <Item><rasd:AddressOnParent>0</rasd:AddressOnParent><rasd:ElementName>disk 1</rasd:ElementName>
        <rasd:HostResource>ovf:/disk/vmdisk1</rasd:HostResource><rasd:InstanceID>4</rasd:InstanceID>
        <rasd:Parent>3</rasd:Parent><rasd:ResourceType>17</rasd:ResourceType></Item>
      <Item><rasd:AutomaticAllocation>true</rasd:AutomaticAllocation><rasd:Connection>VM Network</rasd:Connection>
        <rasd:ElementName>eth 0</rasd:ElementName><rasd:InstanceID>5</rasd:InstanceID>
        <rasd:ResourceSubType>E1000</rasd:ResourceSubType><rasd:ResourceType>10</rasd:ResourceType></Item>
    </VirtualHardwareSection>
  </VirtualSystem>
</Envelope>
"""


def _qemu_img(*args: str) -> None:
    subprocess.run(["qemu-img", *args], capture_output=True, check=True, timeout=120)


def _vmx_export(folder: Path, raw: Path, name: str) -> Path:
    folder.mkdir()
    _qemu_img("convert", "-f", "raw", "-O", "vmdk", "-o", "subformat=monolithicSparse", str(raw),
              str(folder / f"{name}.vmdk"))
    vmx = folder / f"{name}.vmx"
    vmx.write_text(vmx_text(name, "00:50:56:3f:00:11"))
    return vmx


def _ova_export(folder: Path, raw: Path, name: str) -> Path:
    folder.mkdir()
    disk = folder / f"{name}-disk1.vmdk"
    _qemu_img("convert", "-f", "raw", "-O", "vmdk", "-o", "subformat=streamOptimized", str(raw), str(disk))
    ovf = folder / f"{name}.ovf"
    ovf.write_text(OVF.format(name=name, size=disk.stat().st_size, capacity=raw.stat().st_size))
    manifest = folder / f"{name}.mf"
    manifest.write_text("".join(f"SHA256({f.name})= {hashlib.sha256(f.read_bytes()).hexdigest()}\n"
                                for f in (ovf, disk)))
    ova = folder.parent / f"{name}.ova"
    with tarfile.open(ova, "w", format=tarfile.USTAR_FORMAT) as tar:
        for member in (ovf, manifest, disk):  # the descriptor first, as OVF requires
            tar.add(member, arcname=member.name)
    return ova


@pytest.fixture(scope="module")
def import_setup(lab: dict[str, Any], tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """The boot disk, a config with the foreign network map, and the removal of everything imported."""
    layout = paths.LabLayout(Path(lab["dir"]))
    work = tmp_path_factory.mktemp("imports")
    raw = bootdisk.build(work / "boot.raw", layout.boot / "vmlinuz", layout.boot / "initrd.img")
    config = work / "balancerd.toml"
    config.write_text(layout.config_file.read_text() + '\n[[network_map]]\nsource = "VM Network"\ndest = "prod"\n'
                      'source_kind = "vmware"\n')
    made: list[str] = []
    yield {"lab": lab, "layout": layout, "work": work, "raw": raw, "config": config, "made": made}
    _remove(lab, made)


def _remove(lab: dict[str, Any], names: list[str]) -> None:
    for host in lab["hosts"]:
        with connect.connection(host["uri"]) as conn:
            for dom in conn.listAllDomains(0):
                if dom.name() in names:
                    disks = [s.get("file") for s in ET.fromstring(dom.XMLDesc(0)).iter("source") if s.get("file")]
                    if dom.isActive():
                        dom.destroy()
                    dom.undefine()
                    for path in disks:
                        conn.storageVolLookupByPath(path).delete(0)


def _import(setup: dict[str, Any], source: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(BIN / "balancerd"), "import", str(source), "--config", str(setup["config"]),
                           "--host", "auto", "--json", *extra], capture_output=True, text=True,
                          timeout=IMPORT_TIMEOUT_S, stdin=subprocess.DEVNULL, check=False)


def _imported(proc: subprocess.CompletedProcess[str]) -> dict[str, Any]:
    assert proc.returncode == 0, proc.stdout + proc.stderr
    events = [json.loads(line) for line in proc.stdout.splitlines() if line.startswith("{")]
    assert {"convert", "upload"} <= {e.get("step") for e in events if e["event"] == "progress"}
    done = events[-1]
    assert done["event"] == "imported" and done["started"], events
    return done


def _check_running(setup: dict[str, Any], name: str, host: str) -> None:
    lab, layout = setup["lab"], setup["layout"]
    assert where(lab, name) == [(host, RUNNING)], "the imported guest runs once, on the host import chose"
    console = layout.console(name)
    wait_until(lambda: console.exists() and bool(ticks(console)), TICK_TIMEOUT_S, f"{name} to tick")
    uri = next(h["uri"] for h in lab["hosts"] if h["name"] == host)
    with connect.connection(uri) as conn:
        root = ET.fromstring(conn.lookupByName(name).XMLDesc(0))
    assert root.find("os/kernel") is None, "it boots from its own disk"
    nic = root.find("devices/interface")
    assert nic is not None and nic.find("source") is not None
    assert nic.find("source").get("network") == "prod"  # type: ignore[union-attr]


@pytest.mark.parametrize("kind", ["vmx", "ova"])
def test_import_boots_on_the_chosen_host(import_setup: dict[str, Any], kind: str) -> None:
    name = f"imp-{kind}"
    folder = import_setup["work"] / kind
    source = (_vmx_export if kind == "vmx" else _ova_export)(folder, import_setup["raw"], name)
    import_setup["made"].append(name)
    done = _imported(_import(import_setup, source, "--start"))
    _check_running(import_setup, name, done["host"])

    again = _import(import_setup, source, "--start")
    assert again.returncode == 1
    report = json.loads(again.stdout)
    assert {c["name"]: c["ok"] for c in report["checks"]}["name free"] is False
    assert len(where(import_setup["lab"], name)) == 1, "the refused import created nothing"

    renamed = f"{name}-2"
    import_setup["made"].append(renamed)
    second = _imported(_import(import_setup, source, "--start", "--name", renamed))
    _check_running(import_setup, renamed, second["host"])
