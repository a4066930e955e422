"""The daemon behind ``balancerd run``: scheduler, signals, pid and status files, metrics endpoint.

APScheduler 3 runs one cycle at a time (``max_instances=1``, coalesced). A cycle collects, predicts, plans
and publishes; in mode ``enforce`` it hands its plan to the execution worker
(:mod:`balancerd.service.execution`) and ends, so cycles, metrics and status go on while migrations run. The
control API (:mod:`balancerd.service.control` over :mod:`balancerd.api.server`) pauses, resumes, approves and
edits maintenance. The main thread only waits for signals (queued by :mod:`balancerd.service.signals`, never
acted on inside a handler) and acts on them: SIGTERM/SIGINT stop cleanly (no new move starts; running
migrations finish or hit their deadline and are journaled), SIGHUP reloads the config (a bad one is refused and
the old one kept), SIGUSR1 re-reads the maintenance file by running a cycle now.

Under systemd (``Type=notify``) it reports READY=1 after the first successful cycle, RELOADING=1 / READY=1
around a reload, STOPPING=1 on SIGTERM, and feeds the watchdog (``WATCHDOG_USEC``) from its own thread only
while cycles make progress (see :mod:`balancerd.service.notify`).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import os
import signal
import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import structlog
from apscheduler.schedulers.background import BackgroundScheduler

from balancerd import config as config_mod
from balancerd import journal as journal_mod
from balancerd.api.server import ApiServer
from balancerd.backends.base import Hypervisor
from balancerd.clock import Clock
from balancerd.config import Config
from balancerd.errors import BalancerdError, ConfigError
from balancerd.execute.watch import ABORT_GRACE_S
from balancerd.model import CycleReport, Move, MoveResult, Outcome, Plan
from balancerd.observability.metrics import Metrics
from balancerd.reconcile import reconcile
from balancerd.service import drainbook, pausing, pidfile, status
from balancerd.service.control import DaemonControl
from balancerd.service.cycle import CycleRunner, Proposal
from balancerd.service.execution import ExecutionWorker
from balancerd.service.notify import CycleWatch, Notifier, ProgressClock, WatchdogPinger, watchdog_timeout_s
from balancerd.service.signals import SignalInbox
from balancerd.service.wiring import clock_speed, make_backend, make_clock, make_heads

if TYPE_CHECKING:
    from balancerd.ha.leader import Role

log = structlog.get_logger("balancerd.daemon")

_JOB_ID = "cycle"
_RETRAIN_ID = "retrain"
_SIGNALS = (signal.SIGTERM, signal.SIGINT, signal.SIGHUP, signal.SIGUSR1)
_RESTART_ONLY = ("backend", "hosts", "sim", "paths", "control", "metrics", "ha")
"""Config tables a reload cannot change: they name what the daemon opened, bound or built at start."""


class Daemon:
    """A running balancerd."""

    def __init__(self, config: Config, clock: Clock | None = None, backend: Hypervisor | None = None) -> None:
        """``clock`` and ``backend`` default to what the config asks for (tests pass their own)."""
        self.config = config
        self.stop_event = threading.Event()
        self._signals = SignalInbox(_SIGNALS)
        self._lock = threading.Lock()
        self._last_report: CycleReport | None = None
        self.metrics = Metrics()
        self.metrics_port: int | None = None
        self.clock = clock or make_clock(config)
        self.backend = backend or make_backend(config, self.clock)
        self.journal = journal_mod.Journal(config.paths.journal, config.policy.failure_backoff_s)
        self.notifier = Notifier.from_env()
        self._watchdog_s = watchdog_timeout_s()
        self.watch = CycleWatch(self._watchdog_s or 0.0)
        self._pinger: WatchdogPinger | None = None
        self._ready = False
        self._moved_off: set[str] = set()
        self._pid_lock: pidfile.PidLock | None = None
        self._api: ApiServer | None = None
        self._failure: tuple[float, str] | None = None
        self.last_proposal: tuple[Proposal, int] | None = None
        self.drains = drainbook.DrainBook(_previous_drains(config))
        self.heads = make_heads(config, self.journal, self._on_role)
        self.kill = pausing.KillSwitch(config.control, self.heads)
        progress_clock = ProgressClock(self.clock, self.watch.progress)
        self.runner = CycleRunner(config, self.backend, progress_clock, self.journal, on_event=self._on_event,
                                  hold=self.hold_reason, recorder=self.heads.recorder if self.heads else None)
        self.worker = ExecutionWorker(lambda: self.runner.executor, self.stop_event)
        self.scheduler = BackgroundScheduler(timezone=dt.UTC)

    def serve(self) -> int:
        """Run until SIGTERM; return the exit code."""
        self._pid_lock = pidfile.acquire(self.config.paths.pid_file)
        try:
            self._start()
            self._main_loop()
        finally:
            self._shutdown()
            self._signals.close()
        return 0

    def _start(self) -> None:
        if self.heads is not None:  # the other heads' moves first: they may explain this head's open rows
            self.heads.copy_in_at_start(self.clock.now())
        for message in reconcile(self.journal, self.backend, self.clock.now(), self.clock):
            log.warning("reconciled", detail=message)
        self._load_pause()
        if self.heads is not None:
            self.heads.start()
        if self.config.metrics.enabled:
            self.metrics_port = self.metrics.serve(self.config.metrics.address, self.config.metrics.port)
        self._api = ApiServer(DaemonControl(self), self.config.control)
        self._api.start()
        self.runner.prime()
        first = dt.datetime.now(dt.UTC) + dt.timedelta(seconds=min(2.0, self._wall_interval()))
        self.scheduler.add_job(self._cycle, "interval", seconds=self._wall_interval(), id=_JOB_ID,
                               max_instances=1, coalesce=True, next_run_time=first)
        self.scheduler.add_job(self._retrain, "interval", seconds=self._wall_retrain(), id=_RETRAIN_ID,
                               max_instances=1, coalesce=True)
        self.scheduler.start()
        self._start_watchdog()
        log.info("started", mode=self.config.mode, backend=self.config.backend, pid=os.getpid(),
                 metrics_port=self.metrics_port, config=str(self.config.source))

    def _wall_interval(self) -> float:
        return self.config.interval_s / clock_speed(self.clock)

    def _wall_retrain(self) -> float:
        return self.config.predict.retrain_interval_s / clock_speed(self.clock)

    def _retrain(self) -> None:
        """Retrain the forecaster in a scheduler worker; the predictor swaps its models atomically."""
        if self.stop_event.is_set() or not self.runner.predictor.needs_training():
            return
        try:
            report = self.runner.predictor.retrain()
        except Exception:
            log.exception("forecaster retraining crashed")
            return
        log.info("forecaster retrained" if report.trained else "forecaster not retrained", detail=report.detail,
                 rows=report.rows, vms=report.vms, horizon_steps=report.horizon_steps)

    def _start_watchdog(self) -> None:
        if self._watchdog_s is None or not self.notifier.enabled:
            return
        self._pinger = WatchdogPinger(self.notifier, self._watchdog_s, self._healthy)
        self._pinger.start()
        log.info("watchdog enabled", timeout_s=self._watchdog_s)

    def _healthy(self) -> bool:
        """Stopping is healthy (TimeoutStopSec bounds it); otherwise cycles must start and progress."""
        if self.stop_event.is_set():
            return True
        return self.scheduler.running and self.watch.healthy(self._wall_interval())

    def _main_loop(self) -> None:
        """Wait for signals and act on them here, where this thread holds no lock (see ``service/signals.py``)."""
        self._signals.open()
        while not self.stop_event.is_set():
            self._on_signals(self._signals.wait(0.5))

    def _on_signals(self, received: frozenset[int]) -> None:
        if received & {signal.SIGTERM, signal.SIGINT}:
            self.stop_event.set()
            return
        if signal.SIGHUP in received:
            self.reload()
        if signal.SIGUSR1 in received:
            log.info("maintenance file re-read requested")
            self.run_cycle_now()

    def run_cycle_now(self) -> None:
        """Schedule a cycle immediately (skipped by the scheduler if one is running)."""
        if self.scheduler.running:
            self.scheduler.modify_job(_JOB_ID, next_run_time=dt.datetime.now(dt.UTC))

    def reload(self) -> None:
        """Re-read the config file (keeping the old one if the new one is invalid), telling systemd."""
        if self._ready:
            self.notifier.reloading()
        try:
            self._reload_config()
        except Exception:  # a reload never ends the daemon: whatever went wrong, the old config stays
            log.exception("reload failed, keeping the old config")
        finally:
            if self._ready:
                self.notifier.ready()

    def _reload_config(self) -> None:
        try:
            new = config_mod.load(Path(self.config.source))
        except ConfigError as exc:
            log.error("reload refused, keeping the old config", error=str(exc))
            return
        fixed = {name: getattr(self.config, name) for name in _RESTART_ONLY}
        if any(getattr(new, name) != value for name, value in fixed.items()):
            log.warning("changes to " + ", ".join(_RESTART_ONLY) + " need a restart; applying the rest")
            new = dataclasses.replace(new, **fixed)
        with self._lock:
            self.runner.reconfigure(new)
            self.config = new
        self.scheduler.reschedule_job(_JOB_ID, trigger="interval", seconds=self._wall_interval())
        self.scheduler.reschedule_job(_RETRAIN_ID, trigger="interval", seconds=self._wall_retrain())
        log.info("reloaded", mode=new.mode, interval_s=new.interval_s)

    def _cycle(self) -> None:
        if self.stop_event.is_set():
            return
        try:
            with self._lock:
                self.watch.started()
                report = self._cycle_once()
        except BalancerdError as exc:
            log.error("cycle failed", error=str(exc))
            self._cycle_failed(str(exc))
            return
        except Exception as exc:
            log.exception("cycle crashed")
            self._cycle_failed(f"cycle crashed: {type(exc).__name__}: {exc}")
            return
        finally:
            self.watch.finished()
        self._failure = None
        self._last_report = report
        self.metrics.observe_cycle(report)
        self._write_status()
        self._tell_systemd(report)

    def _cycle_once(self) -> CycleReport:
        """Collect, predict, plan, record; in mode enforce hand the plan to the worker (not waiting for it)."""
        wall0 = time.monotonic()
        self._moved_off.clear()
        if self.heads is not None:
            self.heads.before_cycle(self.clock.now(), self.config.paths.maintenance_file, self._take_over)
        self._apply_pause()
        proposal, plan_id = self.runner.step()
        if proposal.maintenance_problem is not None:
            self.metrics.maintenance_errors.inc()
        self.drains.update(proposal.collected.snapshot, proposal.maintenance)
        self.last_proposal = (proposal, plan_id)
        plan = proposal.plan
        if self.config.mode == "enforce" and plan.moves and self.hold_reason() is None:
            self.submit(plan, plan_id, "enforce")
        return self.runner.report(proposal, (), time.monotonic() - wall0)

    def _cycle_failed(self, error: str) -> None:
        """Keep the last good cycle's figures but say in the status that cycles fail now, and why."""
        self._failure = (self.clock.now(), error)
        self._write_status(force=True)

    def submit(self, plan: Plan, plan_id: int, origin: str) -> None:
        """Execute ``plan`` beside the cycles (the cycle's own plan, or one an operator approved)."""
        if self.heads is not None:
            self.heads.planned(plan_id)
        self.worker.submit(plan, plan_id, origin, self.runner.guard(plan), self.clock.now())

    # -- pause ----------------------------------------------------------------------------------------

    def _load_pause(self) -> None:
        error = self.kill.load()
        if error:  # unreadable: stay paused rather than guess
            log.error("pause state unreadable, staying paused", error=error)
        self._apply_pause()

    def paused_reason(self) -> str | None:
        """Why no new migration may start now (an API pause, the pause file), or None."""
        return self.kill.reason()

    def hold_reason(self) -> str | None:
        """Why this daemon starts no move now: paused, or (``[ha]``) not the leader ready in its term."""
        return self.paused_reason() or (self.heads.hold() if self.heads is not None else None)

    def set_pause(self, pause: pausing.Pause | None) -> str:
        """Keep (or clear) an API pause across restarts, and apply it now; a warning if it holds on this head only."""
        warning = self.kill.set(pause)
        self._apply_pause()
        self._write_status()
        return warning

    def _take_over(self) -> None:
        """A new term: settle every open move (the old leader's too) against libvirt before planning; its waits
        for running jobs count as the cycle's progress (the watchdog)."""
        self.runner.executor.supersede()
        for message in reconcile(self.journal, self.backend, self.clock.now(), self.runner.clock):
            log.warning("reconciled at takeover", detail=message)

    def _on_role(self, before: Role, after: Role) -> None:
        changed = (before.leader, before.term, before.holder) != (after.leader, after.term, after.holder)
        (log.warning if changed else log.info)("ha role", role=after.describe(), was=before.describe(),
                                               term=after.term)
        self.metrics.observe_ha(after.leader, after.term)
        if after.leader:
            self.run_cycle_now()

    def _apply_pause(self) -> None:
        reason = self.paused_reason()
        executor = self.runner.executor
        if reason is not None:
            executor.pause(reason)
        elif executor.paused:
            executor.resume()
        self.metrics.observe_pause(reason is not None)

    def current_maintenance(self) -> frozenset[str]:
        return self.runner.maintenance.read(report=False)

    def known_hosts(self) -> tuple[str, ...]:
        return self.backend.host_names()

    def _tell_systemd(self, report: CycleReport) -> None:
        text = f"cycle {report.cycle}: {len(report.plan.moves)} moves planned, imbalance {report.imbalance:.3f}"
        if not self._ready and not self.stop_event.is_set():
            self._ready = True
            self.notifier.ready(text)
            log.info("ready", notify_socket=self.notifier.address)
        else:
            self.notifier.status(text)

    def _on_event(self, event: str, move: Move, result: MoveResult | None) -> None:
        self.watch.progress()
        self.worker.note(event, move, result)
        if result is not None and result.outcome is Outcome.SUCCEEDED:
            self._moved_off.add(move.vm)
        in_flight = len(self.runner.executor.in_flight())
        ended = {} if result is None else {"outcome": result.outcome.value, "detail": result.detail,
                                           "seconds": round(result.duration_s, 3)}
        log.info("migration " + event, vm=move.vm, source=move.source, dest=move.dest, kind=move.kind.value, **ended)
        self.metrics.observe_move(event, move, result, in_flight)
        self._write_status()

    def _write_status(self, force: bool = False) -> None:
        if self._last_report is None and not force:
            return
        try:
            status.write(self.config.paths.status_file, self.status_document())
        except BalancerdError as exc:
            log.error("status not written", error=str(exc))

    def status_document(self) -> dict[str, Any]:
        """What ``balancerctl status`` shows: the last cycle, in-flight moves, drains, the pause."""
        report = self._last_report
        pause = {**self._pause_fields(), **self._cycle_fields(), "failures": status.failure_memory(self.journal)}
        if report is None:
            return {"pid": os.getpid(), "cycle": 0, "mode": self.config.mode, "hosts": [], "imbalance": 0.0,
                    "held": [], **pause}
        flags = frozenset(h.name for h in report.snapshot.hosts if h.maintenance)
        moved = frozenset(self._moved_off) | {r.move.vm for r in report.results if r.outcome is Outcome.SUCCEEDED}
        starts = {h: s for h in flags if (s := self.drains.start(h)) is not None}
        return status.render(report, self.runner.executor.in_flight(), os.getpid(), self.metrics_port, flags,
                             moved, status.drain_failures(self.journal, flags, self.clock.now()), starts,
                             pause)

    def _cycle_fields(self) -> dict[str, Any]:
        report = self._last_report
        failed_at, error = self._failure or (None, None)
        return {"last_cycle_ok": self._failure is None, "last_error": error, "last_error_at": failed_at,
                "last_good_cycle_at": report.started_at if report is not None else None}

    def _pause_fields(self) -> dict[str, Any]:
        ha = {"ha": self.heads.status()} if self.heads is not None else {}
        return {"maintenance_error": self.runner.maintenance.problem, **self.kill.fields(), **ha}

    def _shutdown(self) -> None:
        log.info("stopping")
        self.notifier.stopping()
        self.stop_event.set()
        if self.scheduler.running:
            self.scheduler.shutdown(wait=True)
        if not self.worker.join(self.config.throttle.deadline_s + ABORT_GRACE_S):
            log.error("migrations still running at shutdown; the journal keeps them open for the next start")
        if self.heads is not None:
            self.heads.stop()
        if self._pinger is not None:
            self._pinger.stop()
        if self._api is not None:
            self._api.stop()
        self.journal.close()
        self.backend.close()
        if self._pid_lock is not None:
            pidfile.release(self._pid_lock)
        log.info("stopped")


def _previous_drains(config: Config) -> dict[str, drainbook.DrainStart]:
    """Drain starting points from the status file of the daemon that ran before (none if unreadable)."""
    try:
        return drainbook.from_status(status.read(config.paths.status_file))
    except BalancerdError:
        return {}
