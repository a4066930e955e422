"""Two or more cluster heads (``[ha]``): what the daemon asks before it moves anything, and what it shares.

:class:`~balancerd.service.daemon.Daemon` builds one :class:`Heads` when ``[ha] etcd_endpoints`` is set (without
it nothing here runs and no etcd is needed). Every head collects, predicts and plans; only the leader
(:mod:`balancerd.ha.leader`) submits plans, and only after its takeover reconciliation: the first cycle of a
new term copies the old leader's records in and settles every open move against what libvirt reports
(:func:`balancerd.reconcile.reconcile`) before it plans. Each cycle, on every head:

- the other heads' journal records are copied in (:mod:`balancerd.ha.replica`);
- the API pause in etcd is read, so ``balancerctl pause`` on any head pauses the leader;
- the maintenance file is synced with the cluster-wide set in etcd (:mod:`balancerd.ha.shared`): lines added to
  or removed from this head's file since it last mirrored the set are applied to the set, then the file is
  rewritten to mirror it. At start the set wins over the file; where there is no set in etcd (none was ever
  written, or the key was deleted), this head's file seeds it. While etcd is unreachable the file keeps
  working for this head and its edits are applied when etcd answers again.

A step that fails (etcd unreachable, a damaged key) holds every move start on this head until it works again.
"""

from __future__ import annotations

import dataclasses
import socket
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import structlog

from balancerd import maintenance
from balancerd.config import Config
from balancerd.errors import CoordinationError, StateError
from balancerd.ha.etcd import Etcd
from balancerd.ha.leader import Leadership, Role
from balancerd.ha.recorder import HaRecorder
from balancerd.ha.replica import Replica
from balancerd.ha.shared import Entries, SharedState
from balancerd.journal import Journal
from balancerd.service.pausing import Pause

log = structlog.get_logger("balancerd.ha")

MIRROR_HEADER = ("# hosts in maintenance, one per line: this head's copy of the cluster-wide set in etcd ([ha]);"
                 " edit it here or with balancerctl on any head")


class Heads:
    """This head's part in the group: leadership, the shared records and switches, the takeover."""

    def __init__(self, config: Config, journal: Journal, on_change: Callable[[Role, Role], None] | None = None) -> None:
        ha = config.ha
        self.name = ha.name or socket.gethostname()
        client = Etcd(ha)
        self.endpoints = client.endpoints
        self.leadership = Leadership(client, self.name, ha.prefix + "leader", ha.lease_ttl_s, on_change=on_change)
        self.replica = Replica(client, ha.prefix, self.name, journal)
        self.recorder = HaRecorder(journal, self.leadership, self.replica)
        self.shared = SharedState(client, ha.prefix)
        self._pause: Pause | None = None
        self._mirror: Entries | None = None
        self._ready_term = 0
        self._lock = threading.Lock()
        self.error = ""

    def start(self) -> None:
        self.leadership.start()

    def stop(self) -> None:
        self.leadership.stop()

    def role(self) -> Role:
        return self.leadership.role()

    def before_cycle(self, now: float, maintenance_file: Path, takeover: Callable[[], None]) -> None:
        """Read the pause, copy records in, sync the maintenance set; on a new term, ``takeover`` first. Each
        step is tried on its own (a damaged maintenance key must not hide a pause); a takeover waits until
        every step worked."""
        role = self.role()
        steps: tuple[Callable[[], object], ...] = (
            self._read_pause, lambda: self.replica.copy_in(now, prune=role.leader),
            lambda: self.sync_maintenance(maintenance_file))
        errors = [error for step in steps if (error := _attempt(step))]
        error = "; ".join(errors)
        if error and error != self.error:
            log.error("etcd not usable; this head starts no move until it is", error=error)
        self.error = error
        if not error and role.leader and role.term != self._ready_term:
            log.info("taking over", term=role.term, head=self.name)
            takeover()
            self._ready_term = role.term
            log.info("took over", term=role.term, head=self.name)

    def copy_in_at_start(self, now: float) -> None:
        """Copy the other heads' records in before the start's reconciliation (a warning if etcd is down)."""
        error = _attempt(lambda: self.replica.copy_in(now))
        if error:
            log.warning("other heads' records not copied before reconciling", error=error)

    def _read_pause(self) -> None:
        found = self.shared.pause()
        self._pause = Pause(found["by"], found["at"], found["abort_running"]) if found is not None else None

    def hold(self) -> str | None:
        """Why this head may start no move now (a follower, a takeover not reconciled yet), or None."""
        role = self.role()
        if not role.leader:
            return f"not the leader: this head ({self.name}) is {role.describe()}"
        if self.error:
            return f"etcd not usable: {self.error}"
        if role.term != self._ready_term:
            return f"taking over term {role.term}: reconciling with the hosts first"
        return None

    def planned(self, plan_id: int) -> None:
        """A plan is submitted now: it belongs to the current term (its moves are fenced on it)."""
        self.recorder.planned(plan_id, self.role().term)

    # -- maintenance and pause ------------------------------------------------------------------------

    def sync_maintenance(self, path: Path) -> Entries:
        """Apply this head's file edits to the shared set and mirror the set into the file (see the module)."""
        with self._lock:
            try:
                listed = maintenance.read_entries(path)
            except StateError as exc:
                log.error("maintenance file not synced", error=str(exc))
                listed = self._mirror or ()
            shared = self.shared.maintenance()
            if shared is None:  # never written, or deleted: this head's file seeds it
                shared = self.shared.edit_maintenance(listed, ())
            elif self._mirror is not None:
                before = dict(self._mirror)
                added = [(h, f) for h, f in listed if h not in before or (f and not before[h])]
                removed = [h for h in before if h not in dict(listed)]
                shared = self.shared.edit_maintenance(added, removed)
            if shared != listed:
                maintenance.write_entries(path, shared, MIRROR_HEADER)
            self._mirror = shared
            return shared

    def pause(self) -> Pause | None:
        """The cluster-wide API pause as last read from etcd."""
        return self._pause

    def set_pause(self, pause: Pause | None) -> None:
        """Set or clear the cluster-wide pause; CoordinationError when etcd does not take it."""
        self.shared.set_pause(dataclasses.asdict(pause) if pause is not None else None)
        self._pause = pause

    def restore_requested(self, host: str, at: float) -> None:
        self.replica.operation("restore", at, time.time_ns(), host=host)

    def released(self, vm: str, at: float) -> None:
        self.replica.operation("release", at, time.time_ns(), vm=vm)

    def status(self) -> dict[str, Any]:
        """The ``ha`` part of the status file."""
        role = self.role()
        return {"name": self.name, "role": "leader" if role.leader else "follower", "term": role.term,
                "leader": role.holder or None, "error": self.error or role.error or None,
                "etcd_endpoints": list(self.endpoints), "ready_term": self._ready_term}


def _attempt(step: Callable[[], object]) -> str:
    """Run ``step``; what etcd said if it failed ("" when it worked)."""
    try:
        step()
    except CoordinationError as exc:
        return str(exc)
    return ""
