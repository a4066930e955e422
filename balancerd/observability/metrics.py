"""Prometheus metrics: gauges over the last cycle report, counters and histograms of migrations.

The daemon calls :meth:`Metrics.observe_cycle` after every cycle and :meth:`Metrics.observe_move` for every
executor event, and :meth:`Metrics.serve` once to expose ``/metrics``. Names follow Prometheus conventions:
``balancerd_`` prefix, base units (seconds, bytes, ratios), ``_total`` for counters. Each daemon has its own
registry so tests can run several in one process.
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, start_http_server

from balancerd.errors import ConfigError
from balancerd.model import CycleReport, ForecastError, Move, MoveResult, Outcome

_DURATION_BUCKETS = (0.5, 1, 2, 5, 10, 20, 30, 60, 120, 300, 600, 1200)
_DOWNTIME_BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.2, 0.3, 0.5, 1, 2, 5)


_FINAL_EVENTS = frozenset({"succeeded", "failed", "aborted", "skipped"})

class Metrics:
    """All balancerd metrics in one registry."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self._gauges()
        self._migration_metrics()
        self._cycle_metrics()
        self._forecast_metrics()

    def _gauge(self, name: str, doc: str, *labels: str) -> Gauge:
        return Gauge(name, doc, list(labels), registry=self.registry)

    def _counter(self, name: str, doc: str, *labels: str) -> Counter:
        return Counter(name, doc, list(labels), registry=self.registry)

    def _gauges(self) -> None:
        g = self._gauge
        self.host_util = g("balancerd_host_utilisation_ratio", "Host load / capacity", "host", "resource")
        self.host_capacity = g("balancerd_host_capacity", "Capacity (CPU in cores, memory in bytes)",
                               "host", "resource")
        self.host_up = g("balancerd_host_reachable", "1 if the host answered the last collection", "host")
        self.host_vms = g("balancerd_host_vms", "VMs on the host", "host")
        self.imbalance = g("balancerd_cluster_imbalance", "Std deviation of host utilisation")
        self.plan_moves = g("balancerd_plan_moves", "Moves in the last plan")
        self.plan_score = g("balancerd_plan_score", "Cluster score of the last plan", "when")
        self.plan_objective = g("balancerd_plan_objective", "Objective (-score, lower is better) of the last plan's "
                                "end state")
        self.plan_bound = g("balancerd_plan_lower_bound", "Lower bound on the objective of any plan")
        self.plan_gap = g("balancerd_plan_gap", "Objective of the last plan minus the lower bound (0 = optimal)")
        self.maintenance = g("balancerd_hosts_in_maintenance", "Hosts in maintenance")
        self.drain_left = g("balancerd_drain_vms_remaining", "VMs left on a host in maintenance", "host")
        self.drain_bytes = g("balancerd_drain_memory_remaining_bytes", "Memory of the VMs left on a host in "
                             "maintenance", "host")
        self.unreachable = g("balancerd_hosts_unreachable", "Hosts that did not answer")
        self.in_flight = g("balancerd_migrations_in_flight", "Migrations running now")
        self.last_cycle = g("balancerd_last_cycle_timestamp_seconds", "Clock time of the last cycle")
        self.held = g("balancerd_vms_held", "VMs held by the failure memory: every candidate host failed "
                      "max_failures times (balancerctl release VM frees one)")
        self.drain_feasible = g("balancerd_drain_feasible", "1 if the whole evacuation of a host in maintenance "
                                "fits (its drain proof holds), 0 if it is refused or forced", "host")
        self.drain_blockers = g("balancerd_drain_blockers", "VMs with nowhere to go in the evacuation of a host in "
                                "maintenance", "host")
        self.plan_infeasible = g("balancerd_plan_infeasible", "1 when the last plan found what no placement fixes "
                                 "(demand above capacity, a host no move relieves): see the plan's notes")
        self.paused = g("balancerd_paused", "1 while no new migration may start (balancerctl pause or the pause file)")
        self.ha_leader = g("balancerd_ha_leader", "1 while this head holds the etcd lease and may start moves ([ha])")
        self.ha_term = g("balancerd_ha_term", "The leader's term this head last saw: the leader key's create revision")

    def _migration_metrics(self) -> None:
        c = self._counter
        self.started = c("balancerd_migrations_started", "Migrations started", "kind")
        self.ended = c("balancerd_migrations", "Migrations ended, by outcome", "kind", "outcome")
        self.moved_bytes = c("balancerd_migration_transferred_bytes", "Bytes sent by migrations", "kind")
        self.duration = Histogram("balancerd_migration_duration_seconds", "Migration wall time", ["kind"],
                                  buckets=_DURATION_BUCKETS, registry=self.registry)
        self.downtime = Histogram("balancerd_migration_downtime_seconds", "Guest downtime of a migration",
                                  ["kind"], buckets=_DOWNTIME_BUCKETS, registry=self.registry)

    def _cycle_metrics(self) -> None:
        self.cycle_duration = Histogram("balancerd_cycle_duration_seconds", "Wall time of one cycle",
                                        buckets=(0.01, 0.05, 0.1, 0.5, 1, 5, 10, 30, 60, 300),
                                        registry=self.registry)
        self.cycles = self._counter("balancerd_cycles", "Cycles run", "mode")
        self.cycle_errors = self._counter("balancerd_collection_errors", "Per-host collection errors")
        self.external = self._counter("balancerd_external_moves", "VMs that changed host without a balancerd move "
                                      "(another tool, a person); each gets the cooldown")
        self.maintenance_errors = self._counter("balancerd_maintenance_file_errors", "Cycles whose maintenance file "
                                                "could not be read or named unknown hosts (the last good set held)")

    def _forecast_metrics(self) -> None:
        self.forecast_mae = self._gauge("balancerd_forecast_mae", "Mean absolute error of the point forecast made "
                                        "horizon_seconds earlier (CPU in cores, memory in bytes)",
                                        "resource", "horizon_seconds")
        self.forecast_coverage = self._gauge("balancerd_forecast_p95_coverage_ratio", "Share of VMs whose usage "
                                             "stayed at or below the upper forecast", "resource", "horizon_seconds")
        self.cluster_cpu = self._gauge("balancerd_cluster_cpu_cores", "CPU of all running VMs: measured now "
                                       "(series=actual) and forecast one horizon ahead (forecast, forecast_p95)",
                                       "series")
        self.cluster_mem = self._gauge("balancerd_cluster_memory_bytes", "Memory of all running VMs: measured now "
                                       "and forecast one horizon ahead", "series")

    def observe_forecast(self, errors: tuple[ForecastError, ...]) -> None:
        """Export the latest forecast errors (predicted earlier vs observed now)."""
        for error in errors:
            scale = 1 / 1000 if error.resource == "cpu" else 1024 * 1024
            labels = (error.resource, str(error.horizon_s))
            self.forecast_mae.labels(*labels).set(error.mae * scale)
            self.forecast_coverage.labels(*labels).set(error.coverage)

    def serve(self, address: str, port: int) -> int:
        """Start the HTTP endpoint; return the port it listens on (useful with port 0).

        A name that does not resolve, an address not on this host or a port in use is a ConfigError naming
        ``metrics.address`` (exit 78), not a traceback.
        """
        try:
            server, _thread = start_http_server(port, addr=address, registry=self.registry)
        except OSError as exc:
            raise ConfigError("metrics.address", f"{address}:{port}",
                              f"cannot listen there ({exc}); set [metrics] address and port to a free local "
                              "address") from exc
        return int(server.server_address[1])

    def observe_move(self, event: str, move: Move, result: MoveResult | None, in_flight: int) -> None:
        """Account one executor event."""
        self.in_flight.set(in_flight)
        if event == "started":
            self.started.labels(move.kind.value).inc()
        if result is None or event not in _FINAL_EVENTS:
            return  # provisional notes (escalated, abort_failed) and dropped moves end nothing
        self.ended.labels(move.kind.value, result.outcome.value).inc()
        if result.outcome is Outcome.SUCCEEDED:
            self.duration.labels(move.kind.value).observe(result.duration_s)
            self.moved_bytes.labels(move.kind.value).inc(result.bytes_transferred)
            if result.downtime_ms is not None:
                self.downtime.labels(move.kind.value).observe(result.downtime_ms / 1000)

    def observe_pause(self, paused: bool) -> None:
        self.paused.set(1 if paused else 0)

    def observe_ha(self, leader: bool, term: int) -> None:
        self.ha_leader.set(1 if leader else 0)
        self.ha_term.set(term)

    def observe_cycle(self, report: CycleReport) -> None:
        """Replace the gauges by what ``report`` says."""
        self._observe_hosts(report)
        self.imbalance.set(report.imbalance)
        self.plan_moves.set(len(report.plan.moves))
        self.held.set(len(report.plan.held))
        self.plan_infeasible.set(1 if report.plan.infeasible else 0)
        self.plan_score.labels("before").set(report.plan.score_before)
        self.plan_score.labels("after").set(report.plan.score_after)
        self.plan_objective.set(report.plan.objective)
        self.plan_bound.set(report.plan.lower_bound)
        self.plan_gap.set(report.plan.gap)
        self.maintenance.set(sum(1 for h in report.snapshot.hosts if h.maintenance))
        self.drain_left.clear()
        for host, left in report.drain_remaining:
            self.drain_left.labels(host).set(left)
        self._observe_drain_memory(report)
        self._observe_drain_proofs(report)
        self.cycle_duration.observe(report.duration_s)
        self.cycles.labels(report.mode).inc()
        self.cycle_errors.inc(len(report.errors))
        self.external.inc(len(report.external_moves))
        self.last_cycle.set(report.started_at)
        self.observe_forecast(report.forecast_errors)
        for series, value in (("actual", report.usage_total), ("forecast", report.forecast_point),
                              ("forecast_p95", report.forecast_upper)):
            self.cluster_cpu.labels(series).set(value.cpu_m / 1000)
            self.cluster_mem.labels(series).set(value.mem_mib * 1024 * 1024)

    def _observe_drain_memory(self, report: CycleReport) -> None:
        self.drain_bytes.clear()
        for host in report.snapshot.hosts:
            if host.maintenance:
                mib = sum(vm.size.mem_mib for vm in report.snapshot.vms_on(host.name))
                self.drain_bytes.labels(host.name).set(mib * 1024 * 1024)

    def _observe_drain_proofs(self, report: CycleReport) -> None:
        self.drain_feasible.clear()
        self.drain_blockers.clear()
        for proof in report.plan.drains:
            self.drain_feasible.labels(proof.host).set(1 if proof.feasible else 0)
            self.drain_blockers.labels(proof.host).set(len(proof.blockers))

    def _observe_hosts(self, report: CycleReport) -> None:
        snap = report.snapshot
        self.unreachable.set(sum(1 for h in snap.hosts if not h.reachable))
        for host in snap.hosts:
            self.host_up.labels(host.name).set(1 if host.reachable else 0)
            self.host_capacity.labels(host.name, "cpu").set(host.capacity.cpu_m / 1000)
            self.host_capacity.labels(host.name, "memory").set(host.capacity.mem_mib * 1024 * 1024)
            self.host_vms.labels(host.name).set(len(snap.vms_on(host.name)))
        for util in report.utilisation:
            self.host_util.labels(util.host, "cpu").set(util.cpu)
            self.host_util.labels(util.host, "memory").set(util.memory)
