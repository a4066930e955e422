"""The daemon behind the control API: :class:`DaemonControl` implements :class:`balancerd.api.protocol.Control`.

The API server (:mod:`balancerd.api.server`) calls it from its worker threads; it reads the daemon's last
proposal and current plan, edits the maintenance file, pauses and resumes the executor and executes approved
plans through the daemon's execution worker. Every mutating call is journalled with its caller.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from balancerd import drainproof, failmemory, maintenance
from balancerd.api.protocol import Caller, ConflictError, ControlError, NotFoundError
from balancerd.errors import BackendError, CoordinationError, StateError, UnknownHostError
from balancerd.execute.watch import ABORT_GRACE_S
from balancerd.model import ClusterSnapshot, Move, Plan
from balancerd.service import pausing
from balancerd.service.execution import ActivePlan
from balancerd.service.oneshot import check_move

if TYPE_CHECKING:
    from balancerd.service.daemon import Daemon


class DaemonControl:
    """What ``balancerctl`` may ask of and do to a running daemon."""

    def __init__(self, daemon: Daemon) -> None:
        self._d = daemon

    # -- reads ---------------------------------------------------------------------------------------

    def status(self) -> dict[str, Any]:
        return self._d.status_document()

    def plan(self) -> dict[str, Any]:
        active = self._d.worker.current()
        last = self._d.last_proposal
        if active is not None and (last is None or self._d.config.mode == "enforce" or not active.finished):
            return _plan_view(active.plan, active.plan_id, active.origin, active, self._in_flight())
        if last is None:
            raise ConflictError("no plan yet: the daemon has not finished its first cycle")
        proposal, plan_id = last
        return _plan_view(proposal.plan, plan_id, self._d.config.mode, None, self._in_flight())

    def explain(self, vm: str) -> dict[str, Any]:
        last = self._d.last_proposal
        if last is None:
            raise ConflictError("no plan yet: the daemon has not finished its first cycle")
        proposal, plan_id = last
        snap = proposal.collected.snapshot
        if snap.find_vm(vm) is None:
            raise NotFoundError(f"VM {vm!r} is not in the daemon's last snapshot (seq {snap.seq})")
        lines = self._d.runner.explain(proposal, vm)
        moves = [m for m in proposal.plan.moves if m.vm == vm]
        checks = [_preflight_json(self._d, m) for m in moves]
        failed = [failmemory.as_json(r) for r in proposal.failures if r.vm == vm]
        return {"vm": vm, "plan_id": plan_id, "snapshot_seq": snap.seq, "reasons": list(lines),
                "preflight": checks, "failures": failed}

    def drain_check(self, host: str) -> dict[str, Any]:
        """The proof on the daemon's last collection (at most one interval old; it says which)."""
        last = self._d.last_proposal
        if last is None:
            raise ConflictError("no snapshot yet: the daemon has not finished its first cycle")
        proposal, _plan_id = last
        try:
            proof = self._d.runner.check_drain(proposal, host)
        except UnknownHostError as exc:
            raise NotFoundError(str(exc)) from exc
        snap = proposal.collected.snapshot
        return {**drainproof.as_json(proof), "source": "daemon", "snapshot_seq": snap.seq,
                "taken_at": snap.taken_at}

    # -- actions -------------------------------------------------------------------------------------

    def maintenance(self, host: str, enter: bool, caller: Caller, force: bool = False,
                    restore: bool = False) -> dict[str, Any]:
        if host not in self._d.known_hosts():
            raise NotFoundError(f"host {host!r} is not in the cluster (known: {', '.join(self._d.known_hosts())})")
        path = self._d.config.paths.maintenance_file
        try:
            changed = maintenance.enter(path, host, force) if enter else maintenance.leave(path, host)
        except StateError as exc:
            raise ControlError(str(exc)) from exc
        restoring = not enter and restore and self._d.journal.request_restore(host, self._d.clock.now())
        listed = self._shared_maintenance(path, host, restoring)
        self._record(caller, "maintenance " + ("enter" + (" --force" if force else "") if enter else "exit"
                                               + (" --restore" if restore else "")), host)
        self._d.run_cycle_now()
        answer: dict[str, Any] = {"host": host, "changed": changed, "maintenance": listed, "restore": restoring}
        if not enter and host in self._d.config.fixed_maintenance:
            answer["warning"] = (f"{host} stays in maintenance: the described cluster marks it 'maintenance = true'; "
                                 "change the file to take it out")
        return answer

    def _shared_maintenance(self, path: Path, host: str, restoring: bool) -> list[str]:
        """The maintenance set after an edit: with ``[ha]`` the cluster-wide one, the edit applied to it now."""
        heads = self._d.heads
        if heads is None:
            return sorted(maintenance.read(path))
        if restoring:
            heads.restore_requested(host, self._d.clock.now())
        try:
            return sorted(h for h, _ in heads.sync_maintenance(path))
        except CoordinationError as exc:
            raise ControlError(f"the edit is in this head's maintenance file but not yet in etcd ({exc}); it is "
                               "applied to the cluster-wide set when etcd answers again") from exc

    def pause(self, abort_running: bool, caller: Caller) -> dict[str, Any]:
        pause = pausing.Pause(caller.describe(), self._d.clock.now(), abort_running)
        self._d.runner.executor.pause(pause.reason())
        warning = self._d.set_pause(pause)
        self._record(caller, "pause", f"abort_running={abort_running}")
        aborted = self._abort_running(pause.reason()) if abort_running else []
        return {"paused": True, "by": pause.by, "at": pause.at, "aborted": aborted, **_warning(warning)}

    def resume(self, caller: Caller) -> dict[str, Any]:
        warning = self._d.set_pause(None)
        self._record(caller, "resume", "")
        held = self._d.paused_reason()
        return {"paused": held is not None, "reason": held, **_warning(warning)}

    def approve(self, plan_id: int, caller: Caller) -> dict[str, Any]:
        plan = self._approvable(plan_id)
        accepted, skipped = self._revalidate(plan)
        self._record(caller, "approve", f"plan {plan_id}: {len(accepted)} moves, {len(skipped)} skipped")
        if accepted:
            approved = Plan(plan.snapshot_seq, plan.created_at, tuple(accepted), plan.score_before,
                            plan.score_after, plan.strategy)
            self._d.submit(approved, plan_id, f"approved by {caller.describe()}")
        return {"plan_id": plan_id, "accepted": [_move_json(m) for m in accepted], "skipped": skipped}

    def release(self, vm: str, caller: Caller) -> dict[str, Any]:
        try:
            cleared = self._d.journal.release_failures(vm)
        except StateError as exc:
            raise ControlError(f"release not done: {exc}") from exc
        self._record(caller, "release", f"{vm}: {len(cleared)} failure records cleared")
        if self._d.heads is not None:
            self._d.heads.released(vm, self._d.clock.now())
        if cleared:
            self._d.run_cycle_now()
        return failmemory.release_answer(vm, cleared, offline=False)

    # -- helpers -------------------------------------------------------------------------------------

    def _approvable(self, plan_id: int) -> Plan:
        config = self._d.config
        if config.mode != "recommend":
            raise ConflictError("approve is for mode 'recommend'; in mode 'enforce' the daemon executes its plans")
        if self._d.paused_reason() is not None:
            raise ConflictError(f"the daemon is {self._d.paused_reason()}; resume first")
        held = self._d.heads.hold() if self._d.heads is not None else None
        if held is not None:
            raise ConflictError(f"{held}; approve on the leader (plans recorded here are this head's own)")
        recorded = self._d.journal.recorded_plan(plan_id)
        if recorded is None:
            raise NotFoundError(f"no plan {plan_id} in the journal")
        age = self._d.clock.now() - recorded.plan.created_at
        if age > config.policy.plan_ttl_s:
            raise ConflictError(f"plan {plan_id} is {age:.0f} s old, older than policy.plan_ttl_s "
                                f"({config.policy.plan_ttl_s:g} s); approve a newer plan")
        return recorded.plan

    def _revalidate(self, plan: Plan) -> tuple[list[Move], list[dict[str, str]]]:
        """Moves still valid against the current snapshot, and why the others are skipped."""
        last = self._d.last_proposal
        snapshot = last[0].collected.snapshot if last is not None else None
        accepted: list[Move] = []
        skipped: list[dict[str, str]] = []
        for move in plan.moves:
            reason = _drift(move, snapshot, self._d.current_maintenance())
            if reason is None:
                accepted.append(move)
            else:
                skipped.append({"vm": move.vm, "reason": reason})
        return accepted, skipped

    def _abort_running(self, reason: str) -> list[dict[str, Any]]:
        executor = self._d.runner.executor
        moves = executor.abort_running(f"{failmemory.OPERATOR_ABORT}{reason}")
        grace = ABORT_GRACE_S + 2 * executor.settings.throttle.poll_interval_s
        executor.wait_ended(frozenset(m.vm for m in moves), grace)
        return [self._verified(m) for m in moves]

    def _verified(self, move: Move) -> dict[str, Any]:
        """Where ``move``'s VM runs after the abort: running on its source only is what the operator expects."""
        try:
            copies = self._d.backend.inspect(move.vm)
        except BackendError as exc:
            return {"vm": move.vm, "source": move.source, "verified": False, "detail": str(exc)}
        where = [{"host": c.host, "state": c.state.value} for c in copies]
        ok = [(c.host, c.state.value) for c in copies] == [(move.source, "running")]
        return {"vm": move.vm, "source": move.source, "verified": ok, "where": where}

    def _in_flight(self) -> list[dict[str, str]]:
        return [{"vm": f.vm, "source": f.source, "dest": f.dest} for f in self._d.runner.executor.in_flight()]

    def _record(self, caller: Caller, action: str, detail: str) -> None:
        try:
            self._d.journal.record_action(self._d.clock.now(), caller.describe(), action, detail)
        except StateError as exc:
            raise ControlError(f"{action} not recorded: {exc}") from exc


def _drift(move: Move, snapshot: ClusterSnapshot | None, flags: frozenset[str]) -> str | None:
    """Why ``move`` no longer fits the current snapshot, or None."""
    if snapshot is None:
        return "no current snapshot to re-validate against"
    vm = snapshot.find_vm(move.vm)
    if vm is None:
        return f"{move.vm} is no longer in the cluster"
    if vm.host != move.source:
        return f"{move.vm} is now on {vm.host}, not {move.source}"
    dest = snapshot.find_host(move.dest)
    if dest is None or not dest.reachable:
        return f"destination {move.dest} is not reachable"
    if move.dest in flags:
        return f"destination {move.dest} is in maintenance"
    if any(f.vm == move.vm for f in snapshot.in_flight):
        return f"{move.vm} is already migrating"
    return None


def _plan_view(plan: Plan, plan_id: int, origin: str, active: ActivePlan | None,
               in_flight: list[dict[str, str]]) -> dict[str, Any]:
    moves = [{**_move_json(m), "state": active.state(m) if active else "recommended",
              "detail": active.details.get(m.vm, "") if active else ""} for m in plan.moves]
    return {"plan_id": plan_id, "snapshot_seq": plan.snapshot_seq, "created_at": plan.created_at,
            "origin": origin, "executing": active is not None and not active.finished, "strategy": plan.strategy,
            "moves": moves, "skipped": [{"vm": s.vm, "reasons": list(s.reasons)} for s in plan.skipped],
            "objective": plan.objective, "lower_bound": plan.lower_bound, "tradeoff": list(plan.tradeoff),
            "in_flight": in_flight}


def _move_json(move: Move) -> dict[str, Any]:
    return {"vm": move.vm, "source": move.source, "dest": move.dest, "kind": move.kind.value,
            "reason": move.reason, "memory_mib": move.memory_mib}


def _preflight_json(daemon: Daemon, move: Move) -> dict[str, Any]:
    checked = check_move(daemon.backend, daemon.config, move, daemon.clock.now())
    if checked.decision is None:
        return {"vm": move.vm, "dest": move.dest, "error": checked.error}
    decision = checked.decision
    return {"vm": move.vm, "dest": move.dest, "skip_reason": decision.skip_reason,
            "checks": [{"name": c.name, "ok": c.ok, "detail": c.detail} for c in decision.checks]}


def _warning(text: str) -> dict[str, str]:
    return {"warning": text} if text else {}
