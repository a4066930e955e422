"""observability.metrics: names, units and values after a cycle and migration events."""

from __future__ import annotations

from prometheus_client import generate_latest

from balancerd.model import (
    Blocker,
    ClusterSnapshot,
    CycleReport,
    Evacuation,
    ExternalMove,
    ForecastError,
    Host,
    Move,
    MoveKind,
    MoveResult,
    Outcome,
    Plan,
    Resources,
    Skip,
    Vm,
)
from balancerd.observability.metrics import Metrics
from balancerd.service import report


def _move() -> Move:
    return Move("v", "a", "b", MoveKind.LIVE, "test", 0.1, 1024)


def test_cycle_gauges() -> None:
    metrics = Metrics()
    snap = ClusterSnapshot(1, 5.0, (Host("a", Resources(2000, 1024), Resources(1000, 512), maintenance=True),
                                    Host("b", Resources(2000, 1024), reachable=False)), ())
    held = (Skip("x", ("failed 3 times on b",)), Skip("y", ("failed 3 times on a",)))
    plan = Plan(1, 5.0, (_move(),), -0.2, -0.1, held=held)
    metrics.observe_cycle(CycleReport(1, "enforce", 5.0, 0.2, snap, plan, (), report.utilisation(snap), 0.25,
                                      (("a", 3),)))
    get = metrics.registry.get_sample_value
    assert get("balancerd_host_utilisation_ratio", {"host": "a", "resource": "cpu"}) == 0.5
    assert get("balancerd_host_capacity", {"host": "a", "resource": "memory"}) == 1024 * 1024 * 1024
    assert get("balancerd_cluster_imbalance") == 0.25
    assert get("balancerd_plan_moves") == 1
    assert get("balancerd_vms_held") == 2
    assert get("balancerd_hosts_in_maintenance") == 1
    assert get("balancerd_hosts_unreachable") == 1
    assert get("balancerd_drain_vms_remaining", {"host": "a"}) == 3
    assert get("balancerd_cycles_total", {"mode": "enforce"}) == 1


def test_migration_counters_and_histograms() -> None:
    metrics = Metrics()
    move = _move()
    metrics.observe_move("started", move, None, 1)
    done = MoveResult(move, Outcome.SUCCEEDED, 10.0, 13.0, downtime_ms=120, bytes_transferred=1 << 20)
    metrics.observe_move("succeeded", move, done, 0)
    failed = MoveResult(move, Outcome.FAILED, 10.0, 11.0, "boom")
    metrics.observe_move("failed", move, failed, 0)
    get = metrics.registry.get_sample_value
    assert get("balancerd_migrations_started_total", {"kind": "live"}) == 1
    assert get("balancerd_migrations_total", {"kind": "live", "outcome": "succeeded"}) == 1
    assert get("balancerd_migrations_total", {"kind": "live", "outcome": "failed"}) == 1
    assert get("balancerd_migration_duration_seconds_sum", {"kind": "live"}) == 3.0
    assert get("balancerd_migration_downtime_seconds_count", {"kind": "live"}) == 1
    assert get("balancerd_migration_transferred_bytes_total", {"kind": "live"}) == 1 << 20
    assert b"balancerd_migrations_in_flight 0.0" in generate_latest(metrics.registry)


def test_drain_memory_of_the_vms_left_in_bytes() -> None:
    metrics = Metrics()
    vms = (Vm("v1", "a", Resources(1000, 1024), Resources(10, 10)), Vm("v2", "a", Resources(1000, 512), Resources()),
           Vm("w", "b", Resources(1000, 4096), Resources()))
    hosts = (Host("a", Resources(2000, 8192), maintenance=True), Host("b", Resources(2000, 8192)))
    snap = ClusterSnapshot(1, 5.0, hosts, vms)
    plan = Plan(1, 5.0, (), 0.0, 0.0)
    metrics.observe_cycle(CycleReport(1, "enforce", 5.0, 0.2, snap, plan, (), report.utilisation(snap), 0.0,
                                      report.drain_remaining(snap)))
    get = metrics.registry.get_sample_value
    assert get("balancerd_drain_memory_remaining_bytes", {"host": "a"}) == 1536 * 1024 * 1024
    assert get("balancerd_drain_memory_remaining_bytes", {"host": "b"}) is None
    metrics.observe_cycle(CycleReport(2, "enforce", 6.0, 0.2, ClusterSnapshot(2, 6.0, snap.hosts[1:], vms[2:]), plan,
                                      (), (), 0.0, ()))
    assert get("balancerd_drain_memory_remaining_bytes", {"host": "a"}) is None, "a left maintenance"


def test_plan_objective_lower_bound_and_gap() -> None:
    metrics = Metrics()
    snap = ClusterSnapshot(1, 5.0, (Host("a", Resources(2000, 1024)),), ())
    plan = Plan(1, 5.0, (), -0.30, -0.10, lower_bound=0.04)
    metrics.observe_cycle(CycleReport(1, "enforce", 5.0, 0.2, snap, plan, (), report.utilisation(snap), 0.0))
    get = metrics.registry.get_sample_value
    assert get("balancerd_plan_objective") == 0.10
    assert get("balancerd_plan_lower_bound") == 0.04
    assert get("balancerd_plan_gap") == 0.10 - 0.04


def test_forecast_error_gauges_in_base_units() -> None:
    metrics = Metrics()
    metrics.observe_forecast((ForecastError("cpu", 600, 250.0, 0.95, 10), ForecastError("memory", 600, 2.0, 0.9, 10)))
    get = metrics.registry.get_sample_value
    assert get("balancerd_forecast_mae", {"resource": "cpu", "horizon_seconds": "600"}) == 0.25
    assert get("balancerd_forecast_mae", {"resource": "memory", "horizon_seconds": "600"}) == 2 * 1024 * 1024
    assert get("balancerd_forecast_p95_coverage_ratio", {"resource": "memory", "horizon_seconds": "600"}) == 0.9
    assert b"balancerd_forecast_p95_coverage_ratio" in generate_latest(metrics.registry)


def test_forecast_vs_actual_gauges() -> None:
    metrics = Metrics()
    snap = ClusterSnapshot(1, 5.0, (Host("a", Resources(2000, 1024)),), ())
    report = CycleReport(1, "recommend", 5.0, 0.1, snap, Plan(1, 5.0, (), 0.0, 0.0), (), (), 0.0,
                         usage_total=Resources(1500, 512), forecast_point=Resources(1700, 600),
                         forecast_upper=Resources(2500, 700))
    metrics.observe_cycle(report)
    get = metrics.registry.get_sample_value
    assert get("balancerd_cluster_cpu_cores", {"series": "actual"}) == 1.5
    assert get("balancerd_cluster_cpu_cores", {"series": "forecast"}) == 1.7
    assert get("balancerd_cluster_cpu_cores", {"series": "forecast_p95"}) == 2.5
    assert get("balancerd_cluster_memory_bytes", {"series": "forecast"}) == 600 * 1024 * 1024


def test_drain_proof_gauges_per_host_in_maintenance() -> None:
    metrics = Metrics()
    snap = ClusterSnapshot(1, 5.0, (Host("a", Resources(2000, 1024), maintenance=True),
                                    Host("b", Resources(2000, 1024), maintenance=True)), ())
    proofs = (Evacuation("a", True), Evacuation("b", False, blockers=(Blocker("v", ("no room",)),
                                                                    Blocker("w", ("no room",)))))
    metrics.observe_cycle(CycleReport(1, "enforce", 5.0, 0.2, snap, Plan(1, 5.0, (), 0.0, 0.0, drains=proofs), (),
                                      report.utilisation(snap), 0.0))
    get = metrics.registry.get_sample_value
    assert (get("balancerd_drain_feasible", {"host": "a"}), get("balancerd_drain_blockers", {"host": "a"})) == (1, 0)
    assert (get("balancerd_drain_feasible", {"host": "b"}), get("balancerd_drain_blockers", {"host": "b"})) == (0, 2)
    metrics.observe_cycle(CycleReport(2, "enforce", 6.0, 0.2, snap, Plan(2, 6.0, (), 0.0, 0.0), (), (), 0.0))
    assert get("balancerd_drain_feasible", {"host": "b"}) is None, "no proof: no stale gauge"


def test_plan_infeasible_is_one_while_the_plan_reports_findings() -> None:
    metrics = Metrics()
    snap = ClusterSnapshot(1, 5.0, (Host("a", Resources(2000, 1024)),), ())
    bad = Plan(1, 5.0, (), 0.0, 0.0, infeasible=("demand exceeds capacity: memory (MiB) 2048 needed, 1024 usable",))
    metrics.observe_cycle(CycleReport(1, "enforce", 5.0, 0.2, snap, bad, (), report.utilisation(snap), 0.0))
    assert metrics.registry.get_sample_value("balancerd_plan_infeasible") == 1
    metrics.observe_cycle(CycleReport(2, "enforce", 6.0, 0.2, snap, Plan(2, 6.0, (), 0.0, 0.0), (), (), 0.0))
    assert metrics.registry.get_sample_value("balancerd_plan_infeasible") == 0



def test_external_moves_are_counted() -> None:
    metrics = Metrics()
    snap = ClusterSnapshot(1, 5.0, (Host("a", Resources(2000, 1024)), Host("b", Resources(2000, 1024))), ())
    seen = (ExternalMove("v", "a", "b", 5.0), ExternalMove("w", "a", "b", 5.0))
    for cycle in (1, 2):
        metrics.observe_cycle(CycleReport(cycle, "enforce", 5.0, 0.2, snap, Plan(cycle, 5.0, (), 0.0, 0.0), (),
                                          (), 0.0, external_moves=seen))
    assert metrics.registry.get_sample_value("balancerd_external_moves_total") == 4
