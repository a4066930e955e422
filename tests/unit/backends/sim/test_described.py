"""backends.sim.described: a described cluster file as SimHost / SimVm, and what the simulated cluster then
reports: named resources and pools (in the snapshot the planner sees), pool room in its pre-flight."""

from __future__ import annotations

from pathlib import Path

from balancerd import config
from balancerd.backends.base import MigrationRequest, PoolInfo
from balancerd.backends.sim import fromconfig
from balancerd.backends.sim.cluster import SimCluster
from balancerd.backends.sim.specs import SimHost, SimVm
from balancerd.clock import FakeClock
from balancerd.collect import Collector
from balancerd.model import Resources

CLUSTER = """
[[hosts]]
name = "h1"
cpus = 16
memory_mib = 65536
networks = ["prod", "backup"]
cpu_group = "icelake"
cpu_models = ["Icelake-Server"]
maintenance = true
pools = { images = 50000 }
resources = { vcpu = 32 }

[[hosts]]
name = "h2"
cpus = 8
memory_mib = 32768
pools = { images = 15000 }
resources = { vcpu = 16 }

[[vms]]
name = "web1"
host = "h1"
vcpus = 2
memory_mib = 4096
cpu_pct = 40
mem_used_pct = 50
dirty_rate_mib_s = 30
live_migratable = false
networks = ["prod"]
cpu_mode = "custom"
cpu_model = "Icelake-Server"
disks = { images = 20000 }
resources = { vcpu = 2 }

[[vms]]
name = "db1"
host = "h1"
vcpus = 4
memory_mib = 8192
disks = { images = 10000 }
"""


def _config(tmp_path: Path) -> config.Config:
    (tmp_path / "cluster.toml").write_text(CLUSTER)
    path = tmp_path / "balancerd.toml"
    path.write_text('backend = "sim"\n[sim]\ncluster = "cluster.toml"\n')
    return config.load(path)


def test_a_file_round_trips_into_sim_hosts_and_vms(tmp_path: Path) -> None:
    hosts, vms = fromconfig.configured(_config(tmp_path).sim, 0.0)
    assert hosts == [
        SimHost("h1", 16, 65536, networks=frozenset({"prod", "backup"}), cpu_group="icelake",
                cpu_models=frozenset({"Icelake-Server"}), pools=(("images", 80000),), resources=(("vcpu", 32),)),
        SimHost("h2", 8, 32768, pools=(("images", 15000),), resources=(("vcpu", 16),)),
    ]  # a pool's capacity: the file's free MiB plus the disks of the VMs it lists there
    assert vms == [
        SimVm("web1", "h1", 2, 4096, 40.0, mem_used_pct=50.0, dirty_rate_mib_s=30, live_migratable=False,
              networks=frozenset({"prod"}), cpu_mode="custom", cpu_model="Icelake-Server",
              disks=(("images", 20000),), resources=(("vcpu", 2),)),
        SimVm("db1", "h1", 4, 8192, 0.0, disks=(("images", 10000),)),
    ]


def test_host_names_are_the_file_s(tmp_path: Path) -> None:
    assert fromconfig.host_names(_config(tmp_path).sim) == ("h1", "h2")


def _cluster(tmp_path: Path, clock: FakeClock) -> SimCluster:
    return SimCluster.from_config(_config(tmp_path).sim, clock)


def test_named_resources_and_pools_reach_the_snapshot(tmp_path: Path) -> None:
    clock = FakeClock(0.0)
    collector = Collector(_cluster(tmp_path, clock), {"h2": Resources(4000, 16384)})
    snap = collector.collect(clock.now()).snapshot
    assert snap.host("h1").capacity == Resources(16000, 65536, (("pool:images", 80000), ("vcpu", 32)))
    # a capacity override sets CPU and memory; the named resources stay as the host reports them
    assert snap.host("h2").capacity == Resources(4000, 16384, (("pool:images", 15000), ("vcpu", 16)))
    sizes = {vm.name: vm.size for vm in snap.vms}
    assert sizes == {"web1": Resources(2000, 4096, (("pool:images", 20000), ("vcpu", 2))),
                     "db1": Resources(4000, 8192, (("pool:images", 10000),))}


def test_pools_fill_and_empty_as_vms_move(tmp_path: Path) -> None:
    clock = FakeClock(0.0)
    cluster = _cluster(tmp_path, clock)
    assert cluster.storage_pools("h2") == (PoolInfo("h2", "images", "images", 15000, 0, 15000),)
    cluster.start_migration(MigrationRequest("db1", "h1", "h2"))
    clock.advance(600.0)
    assert cluster.placement()["db1"] == "h2"
    assert cluster.storage_pools("h1") == (PoolInfo("h1", "images", "images", 80000, 20000, 60000),)
    assert cluster.storage_pools("h2") == (PoolInfo("h2", "images", "images", 15000, 10000, 5000),)


def test_pre_flight_refuses_a_pool_without_room(tmp_path: Path) -> None:
    cluster = _cluster(tmp_path, FakeClock(0.0))
    checks = {c.name: c for c in cluster.preflight(MigrationRequest("web1", "h1", "h2")).checks}
    assert not checks["storage"].ok and "images (20000 MiB needed, 15000 free)" in checks["storage"].detail
    assert {c.name: c.ok for c in cluster.preflight(MigrationRequest("db1", "h1", "h2")).checks}["storage"]
