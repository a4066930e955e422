"""importing.target: the host, pool, network mapping and checks of an export, on small snapshots."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import pytest

from balancerd.backends.base import Check, PoolInfo
from balancerd.config import Config, from_table
from balancerd.errors import UnknownHostError
from balancerd.importing import reading, target
from balancerd.importing.source import SourceDisk, SourceFormat, SourceGuest, SourceNic
from balancerd.model import ClusterSnapshot, Forecast, Host
from tests.builders import grid, host, snapshot, vm

MIB = 1024 * 1024
EMPTY = Forecast(300)
VM_NETWORK = {"source": "VM Network", "dest": "br0", "source_kind": "vmware"}


def export(*, vcpus: int = 2, memory_mib: int = 1024, networks: tuple[str, ...] = ("VM Network",),
           disk_mib: tuple[int, ...] = (8,), fmt: SourceFormat = "vmx") -> reading.Export:
    disks = tuple(SourceDisk("scsi", f"d{i}.vmdk", "vmdk", size * MIB, "pvscsi") for i, size in enumerate(disk_mib))
    nics = tuple(SourceNic(n, f"00:50:56:00:00:{i:02x}", "vmxnet3") for i, n in enumerate(networks))
    guest = SourceGuest(format=fmt, name="web", memory_bytes=memory_mib * MIB, vcpus=vcpus, firmware="bios",
                        disks=disks, nics=nics)
    return reading.Export(Path("/exports/web.vmx"), guest, tuple(Path(f"/exports/{d.file}") for d in disks),
                          ("vmdk",) * len(disks), (Check("source readable", True, "every disk file is there"),))


def config(rows: list[dict[str, Any]] | None = None, *, imports: dict[str, Any] | None = None,
           backend: str = "sim", hosts: tuple[str, ...] = ("h0", "h1", "h2")) -> Config:
    table: dict[str, Any] = {"backend": backend, "network_map": list(rows if rows is not None else [VM_NETWORK]),
                             "imports": dict(imports or {})}
    if backend == "libvirt":
        table["hosts"] = [{"name": h, "uri": f"qemu+tcp://{h}/system"} for h in hosts]
    return from_table(table, Path("."))


def with_networks(snap: ClusterSnapshot, networks: dict[str, frozenset[str] | None]) -> ClusterSnapshot:
    hosts = tuple(dataclasses.replace(h, networks=networks.get(h.name, h.networks)) for h in snap.hosts)
    return dataclasses.replace(snap, hosts=hosts)


def pool(name: str, free_mib: int, *, active: bool = True, on: str = "h1") -> PoolInfo:
    return PoolInfo(on, name, f"/srv/{name}", 100_000, 100_000 - free_mib, free_mib, active)


def decide(exp: reading.Export | None = None, cfg: Config | None = None, snap: ClusterSnapshot | None = None, *,
           pools: dict[str, tuple[PoolInfo, ...]] | None = None, **request: Any) -> target.Target:
    req = target.Request(**{"name": "web", **request})
    return target.decide(exp or export(), req, cfg or config(), snap or grid([[6000], [2000], [4000]]), EMPTY,
                         pools or {})


def check(found: target.Target, name: str) -> Check:
    matching = [c for c in found.checks if c.name == name]
    assert len(matching) == 1, [c.name for c in found.checks]
    return matching[0]


def test_the_checks_in_order() -> None:
    assert [c.name for c in decide().checks] == ["name free", "host capacity", "networks mapped", "networks present",
                                                 "pool free space", "cpu compatibility"]


@pytest.mark.parametrize(("rows", "networks", "expected", "weighed"), [
    ([VM_NETWORK], {}, "h1", ["h1", "h2", "h0"]),                                   # every host maps: least loaded
    ([{**VM_NETWORK, "hosts": ["h2"]}], {}, "h2", ["h2"]),                          # the row applies on h2 only
    ([{**VM_NETWORK, "hosts": ["h[02]"]}], {}, "h2", ["h2", "h0"]),                 # a pattern
    ([VM_NETWORK], {"h1": frozenset({"default"})}, "h2", ["h2", "h0"]),             # h1 has no br0
    ([VM_NETWORK], {"h1": frozenset({"default"}), "h2": frozenset({"br0"})}, "h2", ["h2", "h0"]),
    ([{"source": "VM Net*", "dest": "br0", "source_kind": "vmware"}], {}, "h1", ["h1", "h2", "h0"]),
    ([{"source": "*", "dest": "default", "source_kind": "foreign"}], {}, "h1", ["h1", "h2", "h0"]),
    ([{**VM_NETWORK, "source_kind": "hyperv"}], {}, "h1", ["h1", "h2", "h0"]),      # maps nowhere: all weighed
])
def test_auto_placement_among_the_hosts_where_every_nic_maps(rows: list[dict[str, Any]],
                                                             networks: dict[str, frozenset[str] | None],
                                                             expected: str, weighed: list[str]) -> None:
    found = decide(cfg=config(rows), snap=with_networks(grid([[6000], [2000], [4000]]), networks))
    assert found.host == expected
    assert found.placement.host == expected
    assert [c.host for c in found.placement.candidates] == weighed
    capacity = check(found, "host capacity")
    assert capacity.ok
    assert capacity.detail.startswith(f"chosen by the optimizer: {expected} at ")


def test_every_nic_must_map_for_a_host_to_be_a_candidate() -> None:
    rows = [VM_NETWORK, {"source": "Backup", "dest": "br-backup", "source_kind": "vmware", "hosts": ["h0"]}]
    found = decide(export(networks=("VM Network", "Backup")), config(rows))
    assert found.host == "h0"
    assert found.networks == (("VM Network", "br0"), ("Backup", "br-backup"))
    assert [n.network for n in found.devices.nics] == ["br0", "br-backup"]
    assert check(found, "networks mapped") == Check("networks mapped", True, "2 NIC(s) mapped through [[network_map]]")


def test_hyperv_exports_map_through_hyperv_rows() -> None:
    rows = [{"source": "External", "dest": "br-ext", "source_kind": "hyperv"}, VM_NETWORK]
    found = decide(export(networks=("External",), fmt="vhdx"), config(rows))
    assert found.networks == (("External", "br-ext"),)
    assert check(found, "networks mapped").ok


def test_an_unmapped_nic_fails_and_the_known_targets_are_listed() -> None:
    snap = with_networks(grid([[6000], [2000], [4000]]),
                         {"h0": frozenset({"default", "br0"}), "h1": frozenset({"prod"}), "h2": frozenset({"br0"})})
    found = decide(export(networks=("VM Network", "Storage")), config([VM_NETWORK]), snap)
    assert found.host == "h1"                    # no host maps every NIC: every host is weighed
    mapped = check(found, "networks mapped")
    assert mapped == Check("networks mapped", False,
                           "no [[network_map]] row (source_kind = 'vmware' or 'foreign') maps Storage on h1; "
                           "known targets: br0, default, prod")
    assert found.networks == (("VM Network", "br0"), ("Storage", ""))
    assert check(found, "networks present") == Check("networks present", False, "h1 has no network or bridge br0")


def test_no_known_targets_when_no_host_reports_its_networks() -> None:
    found = decide(cfg=config([]))
    assert check(found, "networks mapped") == Check(
        "networks mapped", False, "no [[network_map]] row (source_kind = 'vmware' or 'foreign') maps VM Network on "
        "h1; known targets: (not reported)")


def test_a_named_host_without_the_target_network_fails_networks_present() -> None:
    snap = with_networks(grid([[6000], [2000], [4000]]), {"h0": frozenset({"default"})})
    found = decide(snap=snap, host="h0")
    assert found.host == "h0"
    assert check(found, "host capacity").detail.startswith("named by --host: h0 at ")
    assert check(found, "networks mapped").ok
    assert check(found, "networks present") == Check("networks present", False, "h0 has no network or bridge br0")


def test_networks_present_passes_or_is_not_checked() -> None:
    snap = with_networks(grid([[6000], [2000], [4000]]), {"h0": frozenset({"br0", "default"})})
    assert check(decide(snap=snap, host="h0"), "networks present") == Check("networks present", True, "h0 has br0")
    assert check(decide(snap=snap, host="h1"), "networks present") == Check(
        "networks present", True, "the host does not report its networks: not checked")


def test_an_unknown_host_is_refused() -> None:
    with pytest.raises(UnknownHostError) as raised:
        decide(host="nope")
    assert "nope" in str(raised.value)


def test_a_name_in_use_fails_name_free() -> None:
    snap = snapshot([host("h0"), host("h1")], [vm("web", "h0", 1000, 1024), vm("db", "h1", 1000, 1024)])
    assert check(decide(snap=snap), "name free") == Check(
        "name free", False, "a VM 'web' already runs on h0: import under another --name")
    assert check(decide(snap=snap, name="web2"), "name free") == Check("name free", True, "no VM is called 'web2'")


def test_a_host_without_room_fails_capacity_and_every_host_check() -> None:
    found = decide(export(vcpus=4), snap=grid([[9000], [8000]]))
    assert found.host is None
    capacity = check(found, "host capacity")
    assert not capacity.ok
    assert capacity.detail.startswith("no host may take web (")
    assert check(found, "networks present") == Check("networks present", False, "no host chosen")
    assert check(found, "cpu compatibility") == Check("cpu compatibility", False, "no host chosen")


# --- pools --------------------------------------------------------------------------------------------------


POOLS = {"h1": (pool("default", 1000), pool("big-but-off", 90_000, active=False), pool("fast", 5000)),
         "h0": (pool("huge", 99_000, on="h0"),)}


@pytest.mark.parametrize(("config_pool", "request_pool", "chosen", "ok", "detail"), [
    ("", "", "fast", True, "pool fast: 5000 MiB free, the disks' virtual size 8 MiB"),     # roomiest active
    ("default", "", "default", True, "pool default: 1000 MiB free, the disks' virtual size 8 MiB"),
    ("", "default", "default", True, "pool default: 1000 MiB free, the disks' virtual size 8 MiB"),
    ("fast", "default", "default", True, "pool default: 1000 MiB free, the disks' virtual size 8 MiB"),
    ("big-but-off", "", "big-but-off", False,
     "pool big-but-off: 90000 MiB free, the disks' virtual size 8 MiB (pool inactive)"),
])
def test_the_pool(config_pool: str, request_pool: str, chosen: str, ok: bool, detail: str) -> None:
    found = decide(cfg=config(imports={"pool": config_pool}, backend="libvirt"), pools=POOLS, pool=request_pool)
    assert found.host == "h1"
    assert found.pool == chosen
    assert check(found, "pool free space") == Check("pool free space", ok, detail)


def test_too_little_free_space_fails() -> None:
    pools = {"h1": (pool("small", 20),)}
    found = decide(export(disk_mib=(8, 8, 5)), config(backend="libvirt"), pools=pools)
    assert found.pool == "small"
    assert check(found, "pool free space") == Check("pool free space", False,
                                                    "pool small: 20 MiB free, the disks' virtual size 21 MiB")


def test_exactly_enough_free_space_passes() -> None:
    found = decide(export(disk_mib=(8, 12)), config(backend="libvirt"), pools={"h1": (pool("exact", 20),)})
    assert check(found, "pool free space").ok


def test_a_configured_pool_missing_on_the_host_names_its_pools() -> None:
    found = decide(cfg=config(imports={"pool": "ssd"}, backend="libvirt"), pools=POOLS)
    assert found.pool == ""
    assert check(found, "pool free space") == Check(
        "pool free space", False,
        "no pool ssd on the host; its pools: default, big-but-off, fast (set --pool or [imports] pool)")


def test_a_pool_named_by_request_and_missing_is_named() -> None:
    found = decide(cfg=config(backend="libvirt"), pools=POOLS, pool="ssd")
    assert found.pool == ""
    assert check(found, "pool free space") == Check(
        "pool free space", False,
        "no pool ssd on the host; its pools: default, big-but-off, fast (set --pool or [imports] pool)")


def test_no_active_pool_fails() -> None:
    found = decide(cfg=config(backend="libvirt"), pools={"h1": (pool("off", 90_000, active=False),)})
    assert found.pool == ""
    assert check(found, "pool free space") == Check(
        "pool free space", False, "no pool (active) on the host; its pools: off (set --pool or [imports] pool)")


@pytest.mark.parametrize(("backend", "ok", "detail"), [
    ("sim", True, "the simulated cluster models no storage pools: not checked"),
    ("libvirt", False, "no pool (active) on the host; its pools: none (set --pool or [imports] pool)"),
])
def test_a_host_without_pools(backend: str, ok: bool, detail: str) -> None:
    found = decide(cfg=config(backend=backend))
    assert found.pool == ""
    assert check(found, "pool free space") == Check("pool free space", ok, detail)


# --- CPUs, devices, disk format -----------------------------------------------------------------------------


def test_vcpus_within_the_host_pass() -> None:
    assert check(decide(), "cpu compatibility") == Check(
        "cpu compatibility", True, "QEMU's default CPU model (no host CPU feature needed); 2 of 10 CPUs")


@pytest.mark.parametrize("host_name", [target.AUTO, "h0"])
def test_vcpus_above_the_host_cpus_fail(host_name: str) -> None:
    snap = snapshot([Host("h0", host("h0", cpu_m=4000).capacity)])
    found = decide(export(vcpus=8), snap=snap, host=host_name)
    cpu = check(found, "cpu compatibility")
    assert not cpu.ok
    assert not check(found, "host capacity").ok
    assert "h0 lacks cpu: needs 8000 m" in check(found, "host capacity").detail


@pytest.mark.parametrize(("imports", "fmt"), [({}, "qcow2"), ({"disk_format": "raw"}, "raw")])
def test_disk_format_and_volume_names_follow_the_config(imports: dict[str, str], fmt: str) -> None:
    found = decide(cfg=config(imports=imports), name="app7")
    assert found.disk_format == fmt
    assert [d.volume for d in found.devices.disks] == [f"app7-disk0.{fmt}"]


@pytest.mark.parametrize(("compat", "bus", "model"), [(False, "scsi", "virtio"), (True, "sata", "e1000")])
def test_devices_follow_the_request(compat: bool, bus: str, model: str) -> None:
    found = decide(compat=compat)
    assert [d.bus for d in found.devices.disks] == [bus]
    assert [n.model for n in found.devices.nics] == [model]


def test_as_json() -> None:
    doc = target.as_json(decide(cfg=config(backend="libvirt"), pools=POOLS))
    assert set(doc) == {"host", "pool", "networks", "disk_format", "converter", "devices", "placement"}
    assert (doc["host"], doc["pool"], doc["networks"], doc["disk_format"]) == ("h1", "fast", {"VM Network": "br0"},
                                                                               "qcow2")
    placement = doc["placement"]
    assert isinstance(placement, dict)
    assert [c["host"] for c in placement["candidates"]] == ["h1", "h2", "h0"]
