"""The replay loop of ``balancerd simulate``: the real pipeline on a simulated cluster and a fake clock.

Called by :mod:`balancerd.simulate.cli` and the benchmark. No policy code lives here: every step of
``step_s`` seconds the loop advances the :class:`~balancerd.clock.FakeClock` to the step's start and runs one
``service.cycle.CycleRunner`` cycle (collect -> predict -> optimize -> execute, mode ``enforce``) on a
:class:`~balancerd.backends.sim.SimCluster`; the executor's polling sleeps advance the clock while VMs
migrate (migration time = RAM / (bandwidth / 2)). The collector measures each VM's CPU counter over the step
that just began (the trace value holds from the step's start, as CloudSim samples it), so the pipeline
decides on the utilisation of the moment, like CloudSim's policies do. With ``predict.method = "model"``
the predictor is retrained every ``predict.retrain_interval_s`` of simulated time, in the loop (the daemon
does it on a worker thread). An :class:`~balancerd.simulate.accounting.Accountant` listens to the
executor's move events and integrates energy and SLA figures.
"""

from __future__ import annotations

import dataclasses
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from balancerd.backends.sim.cluster import SimCluster
from balancerd.clock import FakeClock
from balancerd.config import Config, HostConfig
from balancerd.journal import Journal
from balancerd.model import CycleReport, Move, MoveResult
from balancerd.service.cycle import CycleRunner
from balancerd.simulate.accounting import Accountant, Totals
from balancerd.simulate.cluster import Cluster

Progress = Callable[[int, int], None]
START = 1_700_000_000.0


@dataclass(frozen=True, slots=True)
class StepRecord:
    """What one cycle did."""

    step: int
    at: float
    planned: int
    succeeded: int
    skipped: int
    failed: int
    forecast_mae_cpu: float | None
    cycle_seconds: float


@dataclass(frozen=True, slots=True)
class ReplayResult:
    """The figures, the per-step records and the accountant (for per-step series and migrations).

    ``late_cycles`` counts the steps that got no cycle because the previous cycle's moves were still running.
    """

    totals: Totals
    steps: tuple[StepRecord, ...]
    accountant: Accountant
    wall_seconds: float
    trainings: int
    late_cycles: int


def replay_config(base: Config, cluster: Cluster, strategy: str | None, workdir: Path) -> Config:
    """``base`` with what a replay needs: enforce, the step as interval, host capacities in MIPS, the cluster's
    migration link (``[migration] link_mib_s``; a ``bandwidth_mib_s`` cap of the config still applies)."""
    hosts = tuple(HostConfig(name=h.name, cpu_m=int(mips), mem_mib=h.memory_mib)
                  for h, mips in zip(cluster.hosts, cluster.host_mips, strict=True))
    policy = dataclasses.replace(base.policy, strategy=strategy or base.policy.strategy)
    return dataclasses.replace(
        base, mode="enforce", backend="sim", interval_s=float(cluster.step_s), hosts=hosts, policy=policy,
        collect=dataclasses.replace(base.collect, node_overhead=False),
        migration=dataclasses.replace(base.migration, link_mib_s=cluster.link_mib_s),
        paths=dataclasses.replace(base.paths, maintenance_file=workdir / "maintenance",
                                  journal=workdir / "journal.sqlite"))


class Replay:
    """One replay of a cluster's trace through the pipeline."""

    def __init__(self, cluster: Cluster, config: Config, journal_path: Path | None = None,
                 progress: Progress | None = None) -> None:
        self._cluster = cluster
        self._config = config
        self._progress = progress
        self.clock = FakeClock(cluster.origin - cluster.step_s)
        self.backend = SimCluster(cluster.hosts, cluster.vms, self.clock, link_mib_s=config.migration.link_mib_s)
        self.accountant = Accountant(cluster, self.clock, idle_off=config.policy.strategy == "consolidate")
        self.journal = Journal(journal_path or Path(":memory:"))
        self.runner = CycleRunner(config, self.backend, self.clock, self.journal, on_event=self._event)
        self._trained_at = -float("inf")
        self.trainings = 0
        self.training_errors: list[str] = []

    def _event(self, kind: str, move: Move, result: MoveResult | None) -> None:
        self.accountant.on_event(kind, move, result)

    def run(self) -> ReplayResult:
        """Replay every step; return the figures."""
        wall0 = time.monotonic()
        steps = self._cluster.demand.shape[1]
        self.runner.prime()
        records: list[StepRecord] = []
        late = 0
        stop = threading.Event()
        try:
            for step in range(steps):
                if self._to_step_start(step):
                    self._maybe_retrain()
                    records.append(self._cycle(step, stop))
                else:
                    late += 1
                if self._progress is not None:
                    self._progress(step + 1, steps)
            self.accountant.advance_to(self.accountant.end)
        finally:
            self.journal.close()
        return ReplayResult(self.accountant.totals(), tuple(records), self.accountant, time.monotonic() - wall0,
                            self.trainings, late)

    def _to_step_start(self, step: int) -> bool:
        """Advance the clock to the start of ``step``; False when the previous cycle's moves ran past it.

        A step whose start has passed gets no cycle of its own (the daemon's scheduler also skips missed
        runs); its demand still holds and is accounted.
        """
        start = self._cluster.origin + step * self._cluster.step_s
        now = self.clock.now()
        self.accountant.advance_to(max(now, start))
        if now > start:
            return False
        self.clock.advance(start - now)
        return True

    def _maybe_retrain(self) -> None:
        predict = self._config.predict
        now = self.clock.now()
        if predict.method != "model" or now - self._trained_at < predict.retrain_interval_s:
            return
        if self.runner.predictor.needs_training():
            try:
                report = self.runner.predictor.retrain()
            except ValueError as exc:  # too little history yet: try again next step
                self.training_errors.append(str(exc))
                return
            if report.trained:
                self._trained_at = now
                self.trainings += 1

    def _cycle(self, step: int, stop: threading.Event) -> StepRecord:
        wall0 = time.monotonic()
        report = self.runner.run(stop)
        return _record(step, report, time.monotonic() - wall0)


def _record(step: int, report: CycleReport, seconds: float) -> StepRecord:
    outcomes = [r.outcome.value for r in report.results]
    cpu = [e.mae for e in report.forecast_errors if e.resource == "cpu"]
    return StepRecord(step=step, at=report.started_at, planned=len(report.plan.moves),
                      succeeded=outcomes.count("succeeded"), skipped=outcomes.count("skipped"),
                      failed=outcomes.count("failed") + outcomes.count("aborted"),
                      forecast_mae_cpu=cpu[0] if cpu else None, cycle_seconds=seconds)
