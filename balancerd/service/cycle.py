"""One balancing cycle: collect, predict, optimize, then execute (enforce) or only publish (recommend).

The daemon's scheduler job calls :meth:`CycleRunner.step` and hands an ``enforce`` plan to its execution
worker, so the cycle never waits for migrations; ``balancerd simulate`` and the in-process tests call
:meth:`CycleRunner.run`, which executes the plan before it returns; ``balancerd plan`` calls
:meth:`CycleRunner.propose`. This is the only place that wires the pipeline stages together
(ARCHITECTURE.md rule 1); each stage stays ignorant of the others.
"""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

import structlog

from balancerd import optimize
from balancerd.backends.base import Hypervisor
from balancerd.clock import Clock
from balancerd.collect import Collector, CollectResult
from balancerd.config import Config
from balancerd.errors import BackendError
from balancerd.execute import Executor
from balancerd.execute.preflight import Settings
from balancerd.execute.report import Recorder
from balancerd.journal import Journal
from balancerd.model import (
    ClusterSnapshot,
    CycleReport,
    Evacuation,
    ExternalMove,
    FailureRecord,
    Forecast,
    Move,
    MoveResult,
    Outcome,
    Plan,
    Resources,
    RestoreProgress,
)
from balancerd.predict import Predictor
from balancerd.predict.hosts import per_host
from balancerd.service import report as figures
from balancerd.service.limits import MoveLimits
from balancerd.service.maintwatch import MaintenanceWatch
from balancerd.service.wiring import capacity_overrides

log = structlog.get_logger("balancerd.cycle")

EventHook = Callable[[str, Move, MoveResult | None], None]


@dataclass(frozen=True, slots=True)
class Proposal:
    """A plan and the collection it was built on (what ``balancerd plan`` prints)."""

    collected: CollectResult
    plan: Plan
    maintenance: frozenset[str]
    forecast: Forecast
    cooldown: frozenset[str] = frozenset()
    maintenance_problem: str | None = None
    failures: tuple[FailureRecord, ...] = ()
    """The failure memory the plan was made with (the journal's, when the cycle read it)."""
    limits: optimize.Limits = optimize.Limits()
    """What the plan was allowed to start (blackout windows, back-off) and the VMs at their daily cap."""
    external: tuple[ExternalMove, ...] = ()
    """VMs that changed host since the previous cycle without a balancerd move (daemon cycles only)."""


class CycleRunner:
    """Holds the long-lived parts of the pipeline and runs cycles with them."""

    def __init__(self, config: Config, backend: Hypervisor, clock: Clock, journal: Journal,
                 on_event: EventHook | None = None, hold: Callable[[], str | None] | None = None,
                 recorder: Recorder | None = None) -> None:
        self.config = config
        self._recorder: Recorder = recorder if recorder is not None else journal
        self._hold = hold
        self.backend = backend
        self.clock = clock
        self.journal = journal
        journal.failure_backoff_s = config.policy.failure_backoff_s
        self.limits = MoveLimits(journal, config.policy)
        self._on_event = on_event
        hosts = len(backend.host_names())
        self.collector = Collector(backend, capacity_overrides(config), config.collect.node_overhead,
                                   config.collect.worker_count(hosts), config.collect.host_timeout_s,
                                   config.network_map)
        self.predictor = Predictor(config.predict, step_s=config.interval_s)
        self.executor = self._executor(config)
        self.maintenance = MaintenanceWatch(config.paths.maintenance_file, backend.host_names,
                                            config.fixed_maintenance)
        self.cycle = 0
        self._last_flags: frozenset[str] | None = None
        self._drain_verdicts: dict[str, str] = {}
        self._infeasible: tuple[str, ...] = ()

    def _executor(self, config: Config) -> Executor:
        return Executor(self.backend, self.clock, Settings.of(config), self._recorder, on_event=self._on_event)

    def reconfigure(self, config: Config) -> None:
        """Take a reloaded config: policy, throttle, prediction, mode, interval (running moves go on)."""
        if Settings.of(config) != Settings.of(self.config):
            self.executor.reconfigure(Settings.of(config))
        self.config = config
        self.journal.failure_backoff_s = config.policy.failure_backoff_s
        self.limits.reconfigure(config.policy)
        self.collector.reconfigure(config.collect.worker_count(len(self.backend.host_names())),
                                   config.collect.host_timeout_s, config.network_map)
        self.predictor.reconfigure(config.predict, step_s=config.interval_s)

    def prime(self) -> None:
        """Take a first sample so that the first cycle has counter deltas."""
        self.collector.collect(self.clock.now(), self._maintenance())

    def propose(self, observe: bool = False) -> Proposal:
        """Collect, predict and plan; no side effects on the cluster. With ``observe`` (the daemon's cycles) it
        also looks for external moves since the last such cycle and records them."""
        flags = self._maintenance()
        self._track_maintenance(flags)
        collected = self.collector.collect(self.clock.now(), flags, self.executor.in_flight())
        snap = collected.snapshot
        self.predictor.observe(snap)
        external = self.limits.observe(snap, {f.vm for f in snap.in_flight}) if observe else ()
        cooldown = self.limits.cooldown(snap.taken_at)
        limits = self.limits.for_plan(snap.taken_at)
        failures = self.journal.failures()
        forecast = self.predictor.forecast()
        plan = optimize.plan(snap, forecast, self.config.policy, cooldown,
                             migration_mib_s=self.config.migration.speed_mib_s(), failures=failures,
                             drains=self.drain_inputs(), limits=limits, search=self.search(snap.seq))
        return Proposal(collected, plan, flags, forecast, cooldown, self.maintenance.problem, failures, limits,
                        external)

    def search(self, seed: int) -> optimize.Search:
        """The improvement budget of one plan: ``[optimizer] time_budget_s``, at most a quarter of the interval,
        on this process's monotonic clock; seeded by the snapshot's number, so a plan is reproducible given the
        same clock readings."""
        budget = min(self.config.optimizer.time_budget_s, self.config.interval_s / 4)
        if budget <= 0:
            return optimize.Search()
        return optimize.Search(deadline=time.monotonic() + budget, now=time.monotonic, seed=seed)

    def explain(self, proposal: Proposal, vm: str) -> tuple[str, ...]:
        """Why ``vm`` moves, was skipped or stays, on ``proposal``'s collection with the inputs its plan had."""
        return optimize.explain(proposal.collected.snapshot, proposal.forecast, self.config.policy, vm,
                                proposal.cooldown, migration_mib_s=self.config.migration.speed_mib_s(),
                                failures=proposal.failures, drains=self.drain_inputs(), limits=proposal.limits)

    def drain_inputs(self) -> optimize.DrainInputs:
        """The maintenance file's order and forced hosts; a draining host's migration slots (``[throttle]``)."""
        throttle = self.config.throttle
        return optimize.DrainInputs(order=self.maintenance.order, forced=self.maintenance.forced,
                                    slots=min(throttle.per_host_out, throttle.cluster_max),
                                    restores=self.journal.restores())

    def _track_maintenance(self, flags: frozenset[str]) -> None:
        """Hosts that left maintenance since the last cycle get a restore with ``[maintenance] restore``; a host
        that entered it again closes its open restore (what was drained off it is kept)."""
        last, self._last_flags = self._last_flags, flags
        if last is None:
            return
        for host in sorted(flags - last):
            self.journal.cancel_restore(host)
        if self.config.maintenance.restore:
            for host in sorted(last - flags):
                if self.journal.request_restore(host, self.clock.now()):
                    log.info("restore requested", host=host, by="[maintenance] restore")

    def _settle_restores(self, progress: tuple[RestoreProgress, ...]) -> None:
        """Close the restores a plan finds finished (nothing moving back or waiting), saying what came back."""
        for restore in progress:
            if restore.finished:
                self.journal.finish_restore(restore.host)
                log.info("restore finished", host=restore.host, back=len(restore.back),
                         not_returned=[f"{vm}: {why}" for vm, why in (*restore.gone, *restore.blocked)][:10])

    def check_drain(self, proposal: Proposal, host: str) -> Evacuation:
        """The evacuation ``host`` gets (or would get, entering maintenance now) on ``proposal``'s collection;
        UnknownHostError for a name not in it."""
        snap = proposal.collected.snapshot
        return optimize.check_drain(snap, proposal.forecast, self.config.policy, host, proposal.cooldown,
                                    migration_mib_s=self.config.migration.speed_mib_s(),
                                    failures=proposal.failures, drains=self.drain_inputs())

    def _log_infeasible(self, findings: tuple[str, ...]) -> None:
        """Log what no placement fixes when it changes (amounts aside: forecasts move them every cycle), and
        once when it clears."""
        shape = tuple(re.sub(r"\d+", "N", finding) for finding in findings)
        if shape != self._infeasible:
            if findings:
                log.warning("plan infeasible", findings=list(findings))
            else:
                log.info("plan feasible again")
        self._infeasible = shape

    def _log_drains(self, proofs: tuple[Evacuation, ...]) -> None:
        """Log a drain proof when a host's verdict changes (refused, proven, forced), not every cycle."""
        verdicts = {e.host: ("proven" if e.feasible else "forced" if e.forced else "refused") for e in proofs}
        for proof in proofs:
            if self._drain_verdicts.get(proof.host) == verdicts[proof.host]:
                continue
            event = f"drain {verdicts[proof.host]}"
            if proof.feasible:
                log.info(event, host=proof.host, moves=len(proof.moves), estimated_s=round(proof.estimated_s, 1))
            else:
                log.warning(event, host=proof.host, moves=len(proof.moves), blockers=len(proof.blockers),
                            blocked_vms=[b.vm for b in proof.blockers[:10]], first_reason=proof.blockers[0].reason,
                            check=f"balancerctl drain --check {proof.host}")
        self._drain_verdicts = verdicts

    def step(self) -> tuple[Proposal, int]:
        """Count a cycle, propose and record the plan; its journal id."""
        self.cycle += 1
        proposal = self.propose(observe=True)
        self._log_drains(proposal.plan.drains)
        self._log_infeasible(proposal.plan.infeasible)
        self._settle_restores(proposal.plan.restores)
        return proposal, self.journal.record_plan(proposal.plan, self.config.mode)

    def run(self, stop: threading.Event) -> CycleReport:
        """One full cycle; executes the plan in mode ``enforce`` before it returns."""
        wall0 = time.monotonic()
        proposal, plan_id = self.step()
        results: tuple[MoveResult, ...] = ()
        if self.config.mode == "enforce" and proposal.plan.moves:
            results = self.executor.execute(proposal.plan, plan_id, self.guard(proposal.plan), stop).results
        return self.report(proposal, results, time.monotonic() - wall0)

    def report(self, proposal: Proposal, results: tuple[MoveResult, ...], seconds: float) -> CycleReport:
        """The cycle report of ``proposal`` (logged here), with whatever results are known."""
        snap = proposal.collected.snapshot
        report = CycleReport(
            cycle=self.cycle, mode=self.config.mode, started_at=snap.taken_at, duration_s=seconds,
            snapshot=snap, plan=proposal.plan, results=results, utilisation=figures.utilisation(snap),
            imbalance=figures.imbalance(snap), drain_remaining=figures.drain_remaining(snap),
            errors=proposal.collected.errors, forecast_errors=self.predictor.errors(),
            external_moves=proposal.external, waiting=proposal.limits.held, capped=proposal.limits.capped,
            **_totals(snap, proposal.forecast),
        )
        outcomes = [r.outcome.value for r in results]
        log.info("cycle", cycle=self.cycle, mode=self.config.mode, moves=len(proposal.plan.moves),
                 skipped=len(proposal.plan.skipped), imbalance=round(report.imbalance, 4),
                 succeeded=outcomes.count(Outcome.SUCCEEDED.value), failed=outcomes.count(Outcome.FAILED.value),
                 errors=list(report.errors), seconds=round(seconds, 3))
        return report

    def _maintenance(self) -> frozenset[str]:
        return self.maintenance.read()

    def guard(self, plan: Plan) -> Callable[[Move], str | None]:
        """Re-validation right before each move (ARCHITECTURE.md rule 8): skip, not fail, on drift."""

        def guard(move: Move) -> str | None:
            held = self._hold() if self._hold is not None else None
            if held:
                return held
            now = self.clock.now()
            if now - plan.created_at > self.config.policy.plan_ttl_s:
                return f"plan older than plan_ttl_s ({self.config.policy.plan_ttl_s:g} s)"
            limited = self.limits.refuses(move, now)
            if limited:
                return limited
            if move.dest in self.maintenance.read(report=False):
                return f"destination {move.dest} entered maintenance"
            try:
                where = self.backend.locate(move.vm)
            except BackendError as exc:
                return f"cannot locate {move.vm}: {exc}"
            if where != (move.source,):
                return f"{move.vm} is on {', '.join(where) or 'no host'}, not only on {move.source}"
            return None

        return guard


def _totals(snapshot: ClusterSnapshot, forecast: Forecast) -> dict[str, Resources]:
    """Cluster-wide measured usage and forecast of the running VMs (the dashboard's forecast vs actual)."""
    hosts = per_host(snapshot, forecast)
    return {
        "usage_total": Resources.total(vm.usage for vm in snapshot.vms if vm.running),
        "forecast_point": Resources.total(h.point for h in hosts),
        "forecast_upper": Resources.total(h.upper for h in hosts),
    }
