from __future__ import annotations

import xml.etree.ElementTree as ET

from balancerd.backends.base import VmPolicy
from balancerd.backends.libvirt import domxml as dxml

DOMAIN = """<domain type='qemu'><name>vm</name>
<os><type arch='x86_64' machine='pc-i440fx-7.2'>hvm</type></os>
<cpu mode='custom' match='exact'><model>qemu64</model></cpu>
<devices><emulator>/usr/bin/qemu-system-x86_64</emulator>
<disk type='file' device='disk'><driver name='qemu' type='qcow2'/><source file='/var/lib/libvirt/images/vm.qcow2'/>
<target dev='vda' bus='virtio'/></disk>
<disk type='file' device='disk'><driver name='qemu' type='raw'/><source file='/var/lib/libvirt/shared/ctl/vm.raw'/>
<target dev='vdz' bus='virtio'/><readonly/></disk>
<disk type='file' device='disk'><driver name='qemu' type='raw'/><source file='/var/lib/libvirt/shared/data.raw'/>
<target dev='vdb' bus='virtio'/></disk>
<disk type='file' device='cdrom'><source file='/iso/x.iso'/><target dev='hdc'/></disk>
<interface type='network'><source network='site-h1' bridge='vmbr-h1'/><model type='virtio'/></interface>
<interface type='bridge'><source bridge='br0'/></interface>
</devices></domain>"""
SHARED = ("/var/lib/libvirt/shared",)


def test_disks_and_which_are_local() -> None:
    assert [(d.target, d.format, d.readonly) for d in dxml.disks(DOMAIN)] == [
        ("vda", "qcow2", False), ("vdz", "raw", True), ("vdb", "raw", False)]
    assert [d.target for d in dxml.local_disks(DOMAIN, SHARED)] == ["vda"]
    assert [d.target for d in dxml.local_disks(DOMAIN, ())] == ["vda", "vdb"]
    assert not dxml.is_shared("/var/lib/libvirt/sharedx/a", SHARED)


def test_interfaces_cpu_and_os() -> None:
    assert [(i.type, i.source) for i in dxml.interfaces(DOMAIN)] == [("network", "site-h1"), ("bridge", "br0")]
    assert "qemu64" in str(dxml.cpu_xml(DOMAIN))
    assert dxml.os_facts(DOMAIN) == ("/usr/bin/qemu-system-x86_64", "x86_64", "pc-i440fx-7.2", "qemu")


def test_network_map_rewrites_networks_and_bridges_and_drops_the_live_bridge() -> None:
    mapped = dxml.map_networks(DOMAIN, {"site-h1": "site-h2", "br0": "br9"})
    sources = [s.attrib for s in ET.fromstring(mapped).iterfind("devices/interface/source")]
    assert sources == [{"network": "site-h2"}, {"bridge": "br9"}]
    assert dxml.map_networks(DOMAIN, {}) == DOMAIN


def test_policy_metadata() -> None:
    xml = ("<balancerd:policy xmlns:balancerd='https://balancerd.dev/1' live='no' max_downtime_ms='50' "
           "postcopy='yes' auto_converge='off' bandwidth_mib_s='20' cold='yes'/>")
    assert dxml.vm_policy(xml) == VmPolicy(False, 50, True, False, 20, True)
    assert dxml.vm_policy(None) == VmPolicy()
    assert dxml.vm_policy("<not xml") == VmPolicy()
    assert dxml.vm_policy("<policy postcopy='maybe'/>") == VmPolicy()


def test_pool_path() -> None:
    assert dxml.pool_path("<pool><target><path>/var/lib/x</path></target></pool>") == "/var/lib/x"


def test_cpu_definition_and_host_model() -> None:
    assert dxml.cpu_definition("<domain><devices/></domain>") == ("", "")
    assert dxml.cpu_definition("<domain><cpu mode='host-passthrough'/></domain>") == ("host-passthrough", "")
    assert dxml.cpu_definition("<domain><cpu match='exact'><model> Skylake </model></cpu></domain>") == \
        ("custom", "Skylake")
    caps = "<capabilities><host><cpu><arch>x86_64</arch><model>Icelake-Server</model></cpu></host></capabilities>"
    assert dxml.host_cpu_model(caps) == "Icelake-Server"
