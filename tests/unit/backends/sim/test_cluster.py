"""Tests of balancerd.backends.sim.cluster: the simulated cluster behind the Hypervisor protocol, on a FakeClock."""

from __future__ import annotations

import threading

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from balancerd.backends.base import Hypervisor, JobState, JobStats, MigrationRequest
from balancerd.backends.sim.cluster import NODE_OVERHEAD_CPU_M, SimCluster
from balancerd.backends.sim.migration import MAX_PASSES, NOT_CONVERGED
from balancerd.backends.sim.specs import SimHost, SimVm
from balancerd.clock import FakeClock
from balancerd.config import SimConfig
from balancerd.errors import ConfigError, PermanentBackendError, TransientBackendError
from balancerd.model import MoveKind
from balancerd.traces import load_trace

MIB = 1 << 20


def _cluster(clock: FakeClock, **vm_args: object) -> SimCluster:
    """Two 8-CPU hosts; vm1 (2 vCPUs, 4 GiB, 50 %) and vm2 (1 vCPU, 2 GiB, 20 %) on h1, vm3 on h2."""
    hosts = [SimHost("h1", 8, 32768), SimHost("h2", 8, 32768), SimHost("h3", 8, 32768)]
    args: dict[str, object] = {"name": "vm1", "host": "h1", "vcpus": 2, "memory_mib": 4000, "cpu_pct": 50.0}
    args.update(vm_args)
    vms = [SimVm(**args),  # type: ignore[arg-type]
           SimVm("vm2", "h1", 1, 2048, 20.0, mem_used_pct=50.0),
           SimVm("vm3", "h2", 4, 8192, lambda t: 10.0)]
    return SimCluster(hosts, vms, clock, link_mib_s=1000)


def _move(vm: str = "vm1", source: str = "h1", dest: str = "h2", **kw: object) -> MigrationRequest:
    return MigrationRequest(vm, source, dest, **kw)  # type: ignore[arg-type]


def _cpu(cluster: SimCluster, host: str, vm: str) -> int:
    return next(d.cpu_time_ns for d in cluster.domain_stats(host) if d.name == vm)


# --- protocol and inventory ---------------------------------------------------------------------------


def test_implements_the_hypervisor_protocol() -> None:
    assert isinstance(_cluster(FakeClock()), Hypervisor)


def test_hosts_lists_every_host_with_capacity() -> None:
    hosts = _cluster(FakeClock()).hosts()
    assert [(h.name, h.cpus, h.memory_mib, h.reachable) for h in hosts] == [
        ("h1", 8, 32768, True), ("h2", 8, 32768, True), ("h3", 8, 32768, True)]


def test_domain_stats_reports_sizes_and_memory_used() -> None:
    stats = {d.name: d for d in _cluster(FakeClock()).domain_stats("h1")}
    assert set(stats) == {"vm1", "vm2"}
    assert (stats["vm1"].vcpus, stats["vm1"].memory_mib, stats["vm1"].memory_used_mib) == (2, 4000, 2400)
    assert stats["vm2"].memory_used_mib == 1024
    assert stats["vm1"].host == "h1" and stats["vm1"].running


def test_unknown_host_is_permanent() -> None:
    cluster = _cluster(FakeClock())
    with pytest.raises(PermanentBackendError, match="nope"):
        cluster.node_stats("nope")
    with pytest.raises(PermanentBackendError, match="nope"):
        cluster.domain_stats("nope")


# --- counters -------------------------------------------------------------------------------------------


def test_domain_cpu_counter_rate_equals_demand() -> None:
    clock = FakeClock()
    cluster = _cluster(clock)
    first = _cpu(cluster, "h1", "vm1")
    clock.advance(10)
    second = _cpu(cluster, "h1", "vm1")
    assert second - first == pytest.approx(10 * 2 * 0.5 * 1e9, rel=1e-6)


def test_callable_demand_is_evaluated_at_clock_time() -> None:
    clock = FakeClock(start=100.0)
    seen: list[float] = []

    def demand(t: float) -> float:
        seen.append(t)
        return 25.0

    cluster = SimCluster([SimHost("h", 4, 4096)], [SimVm("v", "h", 4, 1024, demand)], clock)
    clock.advance(4)
    assert _cpu(cluster, "h", "v") == pytest.approx(4 * 4 * 0.25 * 1e9)
    assert seen == [104.0]


def test_set_cpu_pct_changes_the_rate_from_now_on() -> None:
    clock = FakeClock()
    cluster = _cluster(clock)
    start = _cpu(cluster, "h1", "vm2")
    clock.advance(10)
    cluster.set_cpu_pct("vm2", 80.0)
    clock.advance(10)
    assert _cpu(cluster, "h1", "vm2") - start == pytest.approx((10 * 0.2 + 10 * 0.8) * 1e9)


def test_demand_is_clamped_to_0_and_100_percent() -> None:
    clock = FakeClock()
    cluster = _cluster(clock)
    cluster.set_cpu_pct("vm1", 250.0)
    cluster.set_cpu_pct("vm2", -5.0)
    clock.advance(1)
    assert _cpu(cluster, "h1", "vm1") == pytest.approx(2e9)
    assert _cpu(cluster, "h1", "vm2") == 0


def test_node_cpu_rate_is_sum_of_vms_plus_overhead_and_memory_adds_up() -> None:
    clock = FakeClock()
    cluster = _cluster(clock)
    first = cluster.node_stats("h1")
    clock.advance(10)
    second = cluster.node_stats("h1")
    expected_cores = 2 * 0.5 + 1 * 0.2 + NODE_OVERHEAD_CPU_M / 1000
    assert second.cpu_time_ns - first.cpu_time_ns == pytest.approx(10 * expected_cores * 1e9, rel=1e-6)
    assert second.at == clock.now()
    assert second.memory_total_mib == 32768
    assert 0 < second.memory_free_mib < 32768 - 2400 - 1024


def test_node_counter_stays_monotone_when_a_vm_leaves() -> None:
    clock = FakeClock()
    cluster = _cluster(clock)
    before = cluster.node_stats("h1").cpu_time_ns
    cluster.start_migration(_move())
    clock.advance(100)
    after = cluster.node_stats("h1").cpu_time_ns
    assert after > before
    clock.advance(10)
    rate = (cluster.node_stats("h1").cpu_time_ns - after) / 10 / 1e9
    assert rate == pytest.approx(0.2 + NODE_OVERHEAD_CPU_M / 1000)


# --- migrations -----------------------------------------------------------------------------------------


def test_migration_duration_is_memory_over_bandwidth_minus_dirty_rate() -> None:
    clock = FakeClock()
    cluster = _cluster(clock, dirty_rate_mib_s=200)
    cluster.start_migration(_move())
    clock.advance(4000 / 800 - 0.01)
    assert cluster.job_stats("vm1").state is JobState.RUNNING
    assert cluster.placement()["vm1"] == "h1"
    clock.advance(0.02)
    assert cluster.job_stats("vm1").state is JobState.COMPLETED
    assert cluster.placement()["vm1"] == "h2"


def test_request_bandwidth_overrides_the_cluster_default() -> None:
    clock = FakeClock()
    cluster = _cluster(clock)
    cluster.start_migration(_move(bandwidth_mib_s=100))
    clock.advance(39.9)
    assert cluster.job_stats("vm1").state is JobState.RUNNING
    clock.advance(0.2)
    assert cluster.job_stats("vm1").state is JobState.COMPLETED


def test_a_cap_above_the_link_leaves_the_link_speed() -> None:
    clock = FakeClock()
    cluster = _cluster(clock)
    cluster.start_migration(_move(bandwidth_mib_s=5000))
    clock.advance(4000 / 1000 - 0.01)
    assert cluster.job_stats("vm1").state is JobState.RUNNING
    clock.advance(0.02)
    assert cluster.job_stats("vm1").state is JobState.COMPLETED


def test_job_states_over_time() -> None:
    clock = FakeClock()
    cluster = _cluster(clock, dirty_rate_mib_s=500)
    assert cluster.job_stats("vm1").state is JobState.NONE
    cluster.start_migration(_move())
    clock.advance(2)
    running = cluster.job_stats("vm1")
    assert running.state is JobState.RUNNING
    assert running.elapsed_ms == 2000
    assert running.data_processed == 2000 * MIB
    assert running.data_remaining == (4000 - 2 * 500) * MIB
    assert running.data_total == running.data_processed + running.data_remaining
    assert running.dirty_rate_mib_s == 500
    assert running.downtime_ms is None
    clock.advance(100)
    done = cluster.job_stats("vm1")
    assert done.state is JobState.COMPLETED
    assert done.elapsed_ms == 8000
    assert done.data_remaining == 0
    assert done.data_processed == 8000 * MIB
    assert done.downtime_ms is not None and 30 <= done.downtime_ms <= 300
    clock.advance(1000)
    assert cluster.job_stats("vm1") == done


def test_vm_is_reported_on_source_until_completion_then_on_dest() -> None:
    clock = FakeClock()
    cluster = _cluster(clock)
    cluster.start_migration(_move())
    clock.advance(1)
    assert "vm1" in {d.name for d in cluster.domain_stats("h1")}
    assert "vm1" not in {d.name for d in cluster.domain_stats("h2")}
    clock.advance(10)
    assert "vm1" not in {d.name for d in cluster.domain_stats("h1")}
    assert {d.host for d in cluster.domain_stats("h2") if d.name == "vm1"} == {"h2"}
    assert cluster.locate("vm1") == ("h2",)


def test_vm_counter_continues_on_the_destination() -> None:
    clock = FakeClock()
    cluster = _cluster(clock)
    before = _cpu(cluster, "h1", "vm1")
    cluster.start_migration(_move())
    clock.advance(10)
    assert _cpu(cluster, "h2", "vm1") > before


def test_incoming_vm_counts_on_destination_memory_while_in_flight() -> None:
    clock = FakeClock()
    cluster = _cluster(clock)
    free = cluster.node_stats("h3").memory_free_mib
    cluster.start_migration(_move(dest="h3"))
    assert cluster.node_stats("h3").memory_free_mib == free - 2400


def test_second_migration_replaces_the_final_state() -> None:
    clock = FakeClock()
    cluster = _cluster(clock)
    cluster.start_migration(_move())
    clock.advance(10)
    cluster.start_migration(_move(source="h2", dest="h3"))
    assert cluster.job_stats("vm1").state is JobState.RUNNING
    clock.advance(10)
    assert cluster.placement()["vm1"] == "h3"


def test_no_dirtying_gives_a_short_downtime() -> None:
    clock = FakeClock()
    cluster = _cluster(clock)
    cluster.start_migration(_move())
    clock.advance(10)
    assert cluster.job_stats("vm1").downtime_ms == 30


def test_abort_leaves_the_vm_on_the_source() -> None:
    clock = FakeClock()
    cluster = _cluster(clock)
    cluster.start_migration(_move())
    clock.advance(1)
    cluster.abort("vm1")
    stats = cluster.job_stats("vm1")
    assert stats.state is JobState.ABORTED
    assert stats.elapsed_ms == 1000
    assert stats.error
    clock.advance(100)
    assert cluster.job_stats("vm1").state is JobState.ABORTED
    assert cluster.placement()["vm1"] == "h1"


def test_abort_without_a_running_migration_is_permanent() -> None:
    clock = FakeClock()
    cluster = _cluster(clock)
    with pytest.raises(PermanentBackendError, match="none is running"):
        cluster.abort("vm1")
    cluster.start_migration(_move())
    clock.advance(10)
    with pytest.raises(PermanentBackendError):
        cluster.abort("vm1")
    with pytest.raises(PermanentBackendError, match="unknown VM"):
        cluster.abort("ghost")


def test_non_converging_migration_runs_without_progress_then_fails() -> None:
    clock = FakeClock()
    cluster = _cluster(clock, dirty_rate_mib_s=1000)
    cluster.start_migration(_move())
    clock.advance(5)
    early = cluster.job_stats("vm1")
    clock.advance(50)
    later = cluster.job_stats("vm1")
    assert early.state is later.state is JobState.RUNNING
    assert early.data_remaining == later.data_remaining == 4000 * MIB
    assert later.data_processed > early.data_processed
    clock.advance(MAX_PASSES * 4.0 - 55)
    failed = cluster.job_stats("vm1")
    assert failed.state is JobState.FAILED
    assert failed.error == NOT_CONVERGED
    assert cluster.placement()["vm1"] == "h1"


def test_non_converging_migration_can_be_aborted() -> None:
    clock = FakeClock()
    cluster = _cluster(clock, dirty_rate_mib_s=1500)
    cluster.start_migration(_move())
    clock.advance(30)
    cluster.abort("vm1")
    assert cluster.job_stats("vm1").state is JobState.ABORTED


def test_set_dirty_rate_applies_to_the_next_migration() -> None:
    clock = FakeClock()
    cluster = _cluster(clock)
    cluster.set_dirty_rate("vm1", 600)
    cluster.start_migration(_move())
    clock.advance(9.9)
    assert cluster.job_stats("vm1").state is JobState.RUNNING
    clock.advance(0.2)
    assert cluster.job_stats("vm1").state is JobState.COMPLETED
    assert {d.dirty_rate_mib_s for d in cluster.domain_stats("h2") if d.name == "vm1"} == {600}


def test_cold_move_of_a_non_live_migratable_vm() -> None:
    clock = FakeClock()
    cluster = _cluster(clock, live_migratable=False)
    with pytest.raises(PermanentBackendError, match="not live-migratable"):
        cluster.start_migration(_move())
    cluster.start_migration(_move(kind=MoveKind.COLD))
    clock.advance(60)
    stats = cluster.job_stats("vm1")
    assert stats.state is JobState.COMPLETED
    assert stats.downtime_ms == stats.elapsed_ms
    assert cluster.placement()["vm1"] == "h2"


@pytest.mark.parametrize(("request_", "message"), [
    (MigrationRequest("ghost", "h1", "h2"), "unknown VM"),
    (MigrationRequest("vm1", "h2", "h3"), "runs on h1, not on h2"),
    (MigrationRequest("vm1", "h1", "h1"), "same host"),
    (MigrationRequest("vm1", "h1", "h9"), "unknown host 'h9'"),
])
def test_invalid_migrations_are_permanent(request_: MigrationRequest, message: str) -> None:
    with pytest.raises(PermanentBackendError, match=message):
        _cluster(FakeClock()).start_migration(request_)


def test_second_migration_while_one_runs_is_permanent() -> None:
    cluster = _cluster(FakeClock())
    cluster.start_migration(_move())
    with pytest.raises(PermanentBackendError, match="already running"):
        cluster.start_migration(_move(dest="h3"))


def test_unknown_vm_job_stats_is_none_like_libvirt() -> None:
    assert _cluster(FakeClock()).job_stats("ghost") == JobStats(vm="ghost", state=JobState.NONE)


# --- failure injection ----------------------------------------------------------------------------------


def test_host_down_makes_stats_transient_and_unreachable() -> None:
    cluster = _cluster(FakeClock())
    cluster.set_host_down("h1")
    assert [h.reachable for h in cluster.hosts()] == [False, True, True]
    with pytest.raises(TransientBackendError, match="h1"):
        cluster.node_stats("h1")
    with pytest.raises(TransientBackendError, match="h1"):
        cluster.domain_stats("h1")
    assert cluster.locate("vm1") == ()
    cluster.set_host_down("h1", down=False)
    assert {d.name for d in cluster.domain_stats("h1")} == {"vm1", "vm2"}


def test_migration_to_or_from_a_down_host_is_transient() -> None:
    cluster = _cluster(FakeClock())
    cluster.set_host_down("h2")
    with pytest.raises(TransientBackendError, match="h2"):
        cluster.start_migration(_move())
    cluster.set_host_down("h2", down=False)
    cluster.set_host_down("h1")
    with pytest.raises(TransientBackendError, match="h1"):
        cluster.start_migration(_move())


@pytest.mark.parametrize("down", ["h1", "h2"])
def test_host_going_down_mid_flight_fails_the_migration(down: str) -> None:
    clock = FakeClock()
    cluster = _cluster(clock)
    cluster.start_migration(_move())
    clock.advance(2)
    cluster.set_host_down(down)
    clock.advance(100)
    stats = cluster.job_stats("vm1")
    assert stats.state is JobState.FAILED
    assert down in stats.error
    assert cluster.placement()["vm1"] == "h1"
    cluster.set_host_down(down, down=False)
    assert "vm1" in {d.name for d in cluster.domain_stats("h1")}


def test_injected_failure_fails_after_half_the_duration() -> None:
    clock = FakeClock()
    cluster = _cluster(clock)
    cluster.fail_next_migration("vm1", "disk on fire")
    cluster.start_migration(_move())
    clock.advance(1.9)
    assert cluster.job_stats("vm1").state is JobState.RUNNING
    clock.advance(0.2)
    stats = cluster.job_stats("vm1")
    assert (stats.state, stats.error) == (JobState.FAILED, "disk on fire")
    assert cluster.placement()["vm1"] == "h1"
    cluster.start_migration(_move())
    clock.advance(10)
    assert cluster.job_stats("vm1").state is JobState.COMPLETED


def test_injected_transient_failure_raises_at_start_once() -> None:
    clock = FakeClock()
    cluster = _cluster(clock)
    cluster.fail_next_migration("vm1", "connection reset", transient=True)
    with pytest.raises(TransientBackendError, match="connection reset"):
        cluster.start_migration(_move())
    assert cluster.job_stats("vm1").state is JobState.NONE
    cluster.start_migration(_move())
    clock.advance(10)
    assert cluster.placement()["vm1"] == "h2"


def test_failure_injection_on_unknown_names_is_permanent() -> None:
    cluster = _cluster(FakeClock())
    with pytest.raises(PermanentBackendError):
        cluster.fail_next_migration("ghost")
    with pytest.raises(PermanentBackendError):
        cluster.set_host_down("nope")


def test_locate_unknown_vm_is_empty() -> None:
    assert _cluster(FakeClock()).locate("ghost") == ()


@settings(max_examples=40, deadline=None)
@given(st.lists(st.tuples(st.floats(0, 30), st.sampled_from(["h1", "h2", "h3"]), st.booleans()), max_size=25))
def test_counters_never_go_backwards(steps: list[tuple[float, str, bool]]) -> None:
    clock = FakeClock()
    cluster = _cluster(clock, dirty_rate_mib_s=300)
    last_node = {h: 0 for h in ("h1", "h2", "h3")}
    last_vm = {v: 0 for v in ("vm1", "vm2", "vm3")}
    for delay, dest, abort in steps:
        clock.advance(delay)
        source = cluster.placement()["vm1"]
        if cluster.job_stats("vm1").state is JobState.RUNNING:
            if abort:
                cluster.abort("vm1")
        elif dest != source:
            cluster.start_migration(_move(source=source, dest=dest))
        for host in last_node:
            node = cluster.node_stats(host).cpu_time_ns
            assert node >= last_node[host]
            last_node[host] = node
            for dom in cluster.domain_stats(host):
                assert dom.cpu_time_ns >= last_vm[dom.name]
                last_vm[dom.name] = dom.cpu_time_ns
        assert sorted(cluster.placement()) == ["vm1", "vm2", "vm3"]


# --- from_config ----------------------------------------------------------------------------------------


def _memory_by_host(cluster: SimCluster) -> dict[str, int]:
    used = {h.name: 0 for h in cluster.hosts()}
    for host in used:
        used[host] = sum(d.memory_mib for d in cluster.domain_stats(host))
    return used


def test_from_config_builds_the_configured_cluster() -> None:
    cluster = SimCluster.from_config(SimConfig(hosts=12, vms=150, host_cpu_m=16_000, host_mem_mib=65_536),
                                     FakeClock())
    hosts = cluster.hosts()
    assert [h.name for h in hosts] == [f"host{i:02d}" for i in range(1, 13)]
    assert {(h.cpus, h.memory_mib) for h in hosts} == {(16, 65_536)}
    placement = cluster.placement()
    assert sorted(placement) == [f"vm{i:04d}" for i in range(1, 151)]


def test_from_config_placement_is_feasible() -> None:
    clock = FakeClock()
    cluster = SimCluster.from_config(SimConfig(hosts=10, vms=110, host_cpu_m=16_000, host_mem_mib=65_536,
                                               skew=0.7), clock)
    before = {h.name: cluster.domain_stats(h.name) for h in cluster.hosts()}
    clock.advance(1)
    for host in cluster.hosts():
        doms = cluster.domain_stats(host.name)
        assert sum(d.memory_mib for d in doms) <= host.memory_mib
        first = {d.name: d.cpu_time_ns for d in before[host.name]}
        assert sum(d.cpu_time_ns - first[d.name] for d in doms) / 1e9 <= host.cpus


def test_from_config_is_deterministic_by_seed() -> None:
    def shape(seed: int) -> tuple[object, ...]:
        cluster = SimCluster.from_config(SimConfig(hosts=8, vms=120, seed=seed, skew=0.3), FakeClock())
        doms = [d for h in cluster.hosts() for d in cluster.domain_stats(h.name)]
        return tuple(sorted((d.name, d.host, d.vcpus, d.memory_mib, d.dirty_rate_mib_s) for d in doms))

    assert shape(7) == shape(7)
    assert shape(7) != shape(8)


def test_from_config_host_names_widen_with_the_count() -> None:
    names = [h.name for h in SimCluster.from_config(SimConfig(hosts=100, vms=0), FakeClock()).hosts()]
    assert names[0] == "host001" and names[-1] == "host100"


def test_from_config_skew_loads_the_first_third() -> None:
    def first_third_share(skew: float) -> float:
        cluster = SimCluster.from_config(SimConfig(hosts=30, vms=400, skew=skew), FakeClock())
        memory = list(_memory_by_host(cluster).values())
        return sum(memory[:10]) / sum(memory)

    assert first_third_share(0.0) == pytest.approx(1 / 3, abs=0.05)
    assert first_third_share(0.5) > 0.55


def test_from_config_vms_follow_the_trace() -> None:
    clock = FakeClock()
    cluster = SimCluster.from_config(SimConfig(hosts=2, vms=3, trace_step_s=60), clock)
    trace = load_trace("bundled")
    clock.advance(60)
    before = {d.name: d for h in cluster.hosts() for d in cluster.domain_stats(h.name)}
    clock.advance(10)
    after = {d.name: d for h in cluster.hosts() for d in cluster.domain_stats(h.name)}
    for index, name in enumerate(["vm0001", "vm0002", "vm0003"]):
        rate = (after[name].cpu_time_ns - before[name].cpu_time_ns) / 10 / 1e9
        assert rate == pytest.approx(after[name].vcpus * trace.series[index][1] / 100, abs=1e-6)


def test_from_config_refuses_vms_that_cannot_fit() -> None:
    with pytest.raises(ConfigError) as info:
        SimCluster.from_config(SimConfig(hosts=2, vms=200, host_mem_mib=16_384), FakeClock())
    assert info.value.key == "sim.vms"


def test_from_config_refuses_hosts_too_small_for_any_vm() -> None:
    with pytest.raises(ConfigError, match="no VM type fits"):
        SimCluster.from_config(SimConfig(hosts=2, vms=1, host_mem_mib=1024), FakeClock())


def test_concurrent_readers_and_migrations_see_consistent_state() -> None:
    clock = FakeClock()
    cluster = _cluster(clock)
    errors: list[BaseException] = []

    def read() -> None:
        try:
            for _ in range(2000):
                # one call is atomic; three calls in a row are not (a move may complete in between)
                for h in ("h1", "h2", "h3"):
                    rows = [d.name for d in cluster.domain_stats(h)]
                    assert len(rows) == len(set(rows)) and set(rows) <= {"vm1", "vm2", "vm3"}
                assert sorted(cluster.placement()) == ["vm1", "vm2", "vm3"]
        except BaseException as exc:  # handed to the main thread
            errors.append(exc)

    reader = threading.Thread(target=read)
    reader.start()
    hosts = ["h1", "h2", "h3"]
    for step in range(300):
        source = cluster.placement()["vm1"]
        cluster.start_migration(_move(source=source, dest=hosts[(hosts.index(source) + 1) % 3]))
        clock.advance(5 if step % 2 else 1)
        if cluster.job_stats("vm1").state is JobState.RUNNING:
            cluster.abort("vm1")
    reader.join()
    assert errors == []
