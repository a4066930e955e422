"""The simulated backend refuses what libvirt's pre-flight refuses: a missing network, an incompatible CPU, a
host off the migration network; and the collector hands the same facts, network map applied, to the planner."""

from __future__ import annotations

from balancerd.backends.base import MigrationRequest
from balancerd.backends.sim.checks import fact_checks
from balancerd.backends.sim.cluster import SimCluster
from balancerd.backends.sim.specs import SimHost, SimVm
from balancerd.clock import FakeClock
from balancerd.collect.snapshot import Collector
from balancerd.config import NetworkMapConfig

H1 = SimHost("h1", 8, 16384, networks=frozenset({"lan0"}), cpu_group="icelake")
H2 = SimHost("h2", 8, 16384, networks=frozenset({"lan2"}), cpu_group="epyc", cpu_models=frozenset({"EPYC"}),
             migration_problem="no interface has 10.0.0.2")
WEB = SimVm("web", "h1", 1, 1024, 10.0, networks=frozenset({"lan0"}), cpu_mode="host-passthrough")


def _failed(checks: tuple[object, ...]) -> dict[str, str]:
    return {c.name: c.detail for c in checks if not c.ok}  # type: ignore[attr-defined]


def test_each_fact_is_a_failed_check_and_the_map_mends_the_network() -> None:
    failed = _failed(fact_checks(WEB, H1, H2, ()))
    assert set(failed) == {"networks", "cpu compatible", "migration network"}
    assert "lacks network lan0" in failed["networks"]
    assert "networks" not in _failed(fact_checks(WEB, H1, H2, (("lan0", "lan2"),)))
    custom = SimVm("c", "h1", 1, 1024, 10.0, cpu_mode="custom", cpu_model="Skylake")
    assert "Skylake" in _failed(fact_checks(custom, H1, H2, ()))["cpu compatible"]
    assert _failed(fact_checks(custom, H2, H1, ())) == {}


def test_sim_preflight_refuses_and_the_snapshot_carries_the_facts() -> None:
    clock = FakeClock(0.0)
    cluster = SimCluster([H1, H2], [WEB], clock)
    facts = cluster.preflight(MigrationRequest("web", "h1", "h2"))
    assert not all(c.ok for c in facts.checks)
    rows = (NetworkMapConfig("lan0", "lan2", ("h2",)),)
    snap = Collector(cluster, network_map=rows).collect(clock.now()).snapshot
    assert snap.host("h2").networks == frozenset({"lan2", "lan0"})  # lan0 is mapped to lan2 there
    assert snap.host("h1").networks == frozenset({"lan0"}) and snap.host("h2").migration_problem
    vm = snap.find_vm("web")
    assert vm is not None and vm.networks == frozenset({"lan0"}) and vm.cpu_mode == "host-passthrough"
