"""backends.libvirt.provision.bridged: NICs whose target is not a libvirt network of the host become bridges."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import pytest

from balancerd.backends.libvirt.provision import bridged

XML = """<domain type='kvm'>
  <name>web</name>
  <devices>
    <disk type='file' device='disk'><source file='/srv/web-disk0.qcow2'/><target dev='sda' bus='scsi'/></disk>
    <interface type='network'><mac address='00:50:56:01:02:03'/><source network='default'/><model type='virtio'/>
    </interface>
    <interface type='network'><mac address='00:50:56:01:02:04'/><source network='br0'/><model type='e1000'/>
    </interface>
    <interface type='bridge'><source bridge='br-old'/></interface>
    <interface type='user'/>
  </devices>
</domain>"""


def nics(xml: str) -> list[tuple[str | None, dict[str, str], str | None, str | None]]:
    root = ET.fromstring(xml)
    found = []
    for nic in root.iter("interface"):
        source, mac, model = nic.find("source"), nic.find("mac"), nic.find("model")
        found.append((nic.get("type"), {} if source is None else dict(source.attrib),
                      None if mac is None else mac.get("address"), None if model is None else model.get("type")))
    return found


@pytest.mark.parametrize(("networks", "expected"), [
    ({"default"}, [("network", {"network": "default"}, "00:50:56:01:02:03", "virtio"),
                   ("bridge", {"bridge": "br0"}, "00:50:56:01:02:04", "e1000")]),
    ({"default", "br0"}, [("network", {"network": "default"}, "00:50:56:01:02:03", "virtio"),
                          ("network", {"network": "br0"}, "00:50:56:01:02:04", "e1000")]),
    (set(), [("bridge", {"bridge": "default"}, "00:50:56:01:02:03", "virtio"),
             ("bridge", {"bridge": "br0"}, "00:50:56:01:02:04", "e1000")]),
])
def test_only_interfaces_on_unknown_networks_become_bridges(networks: set[str], expected: list[object]) -> None:
    found = nics(bridged(XML, networks))
    assert found[:2] == expected
    assert found[2:] == [("bridge", {"bridge": "br-old"}, None, None), ("user", {}, None, None)]


def test_the_rest_of_the_domain_is_kept() -> None:
    root = ET.fromstring(bridged(XML, {"default"}))
    assert (root.tag, root.get("type"), root.findtext("name")) == ("domain", "kvm", "web")
    disk = root.find("devices/disk/source")
    assert disk is not None
    assert disk.get("file") == "/srv/web-disk0.qcow2"
    assert len(root.findall("devices/interface")) == 4


def test_a_domain_without_interfaces_is_unchanged() -> None:
    xml = "<domain type='qemu'><name>a&amp;b</name><devices/></domain>"
    root = ET.fromstring(bridged(xml, set()))
    assert root.findtext("name") == "a&b"
    assert root.findall("devices/*") == []
