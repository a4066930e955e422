"""The lab's domain, network and pool XML are built with ElementTree (issue 19): names and paths holding
XML's special characters come back exactly, and a policy string that is not name='value' pairs is refused."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from balancerd.lab import domain, hostconf

NASTY = "a'&<\">b"


def test_names_and_paths_come_back_exactly() -> None:
    spec = domain.GuestSpec(f"vm{NASTY}", Path(f"/k/{NASTY}"), Path(f"/i/{NASTY}"), Path(f"/c/{NASTY}.log"),
                            network=f"net{NASTY}", data_disk=Path(f"/images/{NASTY}.img"),
                            control_disk=Path(f"/ctl/{NASTY}.raw"))
    root = ET.fromstring(domain.domain_xml(spec))
    assert root.findtext("name") == f"vm{NASTY}"
    assert (root.findtext("os/kernel"), root.findtext("os/initrd")) == (f"/k/{NASTY}", f"/i/{NASTY}")
    assert root.find("devices/serial/source").get("path") == f"/c/{NASTY}.log"  # type: ignore[union-attr]
    files = [d.find("source").get("file") for d in root.iterfind("devices/disk")]  # type: ignore[union-attr]
    assert files == [f"/images/{NASTY}.img", f"/ctl/{NASTY}.raw"]
    assert root.find("devices/interface/source").get("network") == f"net{NASTY}"  # type: ignore[union-attr]


def test_policy_values_are_escaped_and_both_quotes_are_read() -> None:
    spec = domain.GuestSpec("g", Path("/k"), Path("/i"), Path("/c.log"), policy="live='n<&\"o' cold=\"yes\"")
    policy = ET.fromstring(domain.domain_xml(spec)).find("metadata/{https://balancerd.dev/1}policy")
    assert policy is not None and policy.attrib == {"live": 'n<&"o', "cold": "yes"}


@pytest.mark.parametrize("policy", ["live=no", "live='no'/><devices", "live='no' junk", "live='no"])
def test_a_policy_that_is_not_name_value_pairs_is_refused(policy: str) -> None:
    with pytest.raises(ValueError, match="name='value' pairs"):
        domain.domain_xml(domain.GuestSpec("g", Path("/k"), Path("/i"), Path("/c.log"), policy=policy))


def test_network_and_pool_names_come_back_exactly() -> None:
    net = ET.fromstring(hostconf.bridge_network_xml(NASTY, f"br{NASTY}"))
    assert net.findtext("name") == NASTY and net.find("bridge").get("name") == f"br{NASTY}"  # type: ignore[union-attr]
    pool = ET.fromstring(hostconf.dir_pool_xml(NASTY, Path(f"/pools/{NASTY}")))
    assert pool.findtext("name") == NASTY and pool.findtext("target/path") == f"/pools/{NASTY}"
