"""Unit tests of the guest domain XML generator."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from balancerd.lab import domain
from balancerd.lab.domain import GuestSpec


def _spec(**kw: object) -> GuestSpec:
    base: dict[str, object] = {"name": "vm1", "kernel": Path("/lab/shared/boot/vmlinuz"),
                               "initrd": Path("/lab/shared/boot/initrd.img"),
                               "console": Path("/lab/consoles/vm1.log")}
    base.update(kw)
    return GuestSpec(**base)  # type: ignore[arg-type]


def _xml(spec: GuestSpec) -> ET.Element:
    return ET.fromstring(domain.domain_xml(spec))


def test_tcg_guest_has_96_mib_kernel_boot_and_small_tb_cache() -> None:
    root = _xml(_spec())
    assert root.get("type") == "qemu"
    assert root.findtext("name") == "vm1"
    assert root.findtext("memory") == "96" and root.find("memory").get("unit") == "MiB"  # type: ignore[union-attr]
    assert root.findtext("os/kernel") == "/lab/shared/boot/vmlinuz"
    assert root.findtext("os/initrd") == "/lab/shared/boot/initrd.img"
    assert "console=ttyS0" in (root.findtext("os/cmdline") or "")
    assert root.findtext("features/tcg/tb-cache") == "32"
    assert root.find("features/acpi") is not None


def test_kvm_guest_has_no_tcg_features() -> None:
    root = _xml(_spec(virt="kvm"))
    assert root.get("type") == "kvm"
    assert root.find("features/tcg") is None


def test_console_appends_to_a_file() -> None:
    source = _xml(_spec()).find("devices/serial/source")
    assert source is not None
    assert source.get("path") == "/lab/consoles/vm1.log" and source.get("append") == "on"


def test_balloon_reports_stats_every_two_seconds() -> None:
    balloon = _xml(_spec()).find("devices/memballoon")
    assert balloon is not None and balloon.get("model") == "virtio"
    assert balloon.find("stats").get("period") == "2"  # type: ignore[union-attr]


def test_nic_on_prod_unless_disabled() -> None:
    assert _xml(_spec()).find("devices/interface/source").get("network") == "prod"  # type: ignore[union-attr]
    assert _xml(_spec(network=None)).find("devices/interface") is None


def test_control_disk_is_read_only() -> None:
    disk = _xml(_spec(control_disk=Path("/var/lib/libvirt/shared/ctl/vm1.raw"))).find("devices/disk")
    assert disk is not None and disk.find("readonly") is not None
    assert disk.find("source").get("file") == "/var/lib/libvirt/shared/ctl/vm1.raw"  # type: ignore[union-attr]
    assert _xml(_spec()).find("devices/disk") is None


def test_names_are_escaped() -> None:
    assert _xml(_spec(name="a<b&c")).findtext("name") == "a<b&c"


def test_unknown_virt_is_rejected() -> None:
    with pytest.raises(ValueError, match="virt"):
        domain.domain_xml(_spec(virt="xen"))


def test_data_disk_and_policy_metadata() -> None:
    spec = domain.GuestSpec("g", Path("/k"), Path("/i"), Path("/c.log"),
                            data_disk=Path("/var/lib/libvirt/images/g.img"), policy="live='no' max_downtime_ms='50'")
    root = ET.fromstring(domain.domain_xml(spec))
    disk = root.find("devices/disk[serial='balancerd-data']")
    assert disk is not None and disk.find("readonly") is None
    assert disk.find("source").attrib["file"] == "/var/lib/libvirt/images/g.img"  # type: ignore[union-attr]
    assert disk.find("target").attrib["dev"] == "vda"  # type: ignore[union-attr]
    policy = root.find("metadata/{https://balancerd.dev/1}policy")
    assert policy is not None and policy.attrib == {"live": "no", "max_downtime_ms": "50"}
    plain = ET.fromstring(domain.domain_xml(domain.GuestSpec("g", Path("/k"), Path("/i"), Path("/c.log"))))
    assert plain.find("metadata") is None and plain.find("devices/disk") is None
