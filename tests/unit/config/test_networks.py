"""config.networks: the one reading of ``[[network_map]]``: libvirt rows by destination host (first match
wins), foreign rows by kind and source pattern."""

from __future__ import annotations

from balancerd.config import NetworkMapConfig, foreign_network, network_pairs

ROWS = (
    NetworkMapConfig("prod", "prod-b", hosts=("rack2-*",)),
    NetworkMapConfig("prod", "prod-a"),
    NetworkMapConfig("mgmt", "mgmt", hosts=("rack1-*",)),
    NetworkMapConfig("VM Network*", "prod-a", source_kind="vmware"),
    NetworkMapConfig("*", "default", source_kind="foreign"),
)


def test_libvirt_rows_apply_by_host_and_the_first_matching_row_wins() -> None:
    assert network_pairs(ROWS, "rack2-h1") == (("prod", "prod-b"),)
    assert network_pairs(ROWS, "rack1-h1") == (("prod", "prod-a"), ("mgmt", "mgmt"))


def test_foreign_rows_match_their_kind_or_any_foreign_kind() -> None:
    assert foreign_network(ROWS, "rack1-h1", "vmware", "VM Network 2") == "prod-a"
    assert foreign_network(ROWS, "rack1-h1", "hyperv", "External") == "default"
    assert foreign_network(ROWS[:4], "rack1-h1", "hyperv", "External") is None
