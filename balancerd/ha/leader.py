"""Leadership of the cluster from an etcd lease: who may start moves, in which term, until when.

:class:`balancerd.service.heads.Heads` starts one :class:`Leadership` per daemon with ``[ha]``. Its thread keeps a
lease of ``lease_ttl_s`` alive and campaigns for the leader key (``<prefix>leader``): the key is created with
the lease only where it does not exist, so exactly one head holds it; its create revision is the *term*.
A leader that cannot refresh its lease steps down on its own clock ``lease_ttl_s`` minus a margin after the
last refresh it sent, before etcd lets the key expire, so a head that was paused (SIGSTOP, a long stall, a
network split) and comes back finds itself a follower. Every move start is fenced on top of that
(:meth:`Leadership.fenced`): a transaction that writes only while the leader key still has this term and
this lease, so even a head whose clock lied starts nothing.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import Any

import structlog

from balancerd.errors import CoordinationError, FencedError
from balancerd.ha import etcd
from balancerd.ha.etcd import Etcd

log = structlog.get_logger("balancerd.ha")

MARGIN_S = 1.0
"""A leader steps down this long before its lease could have expired in etcd (sent-time + TTL)."""


@dataclass(frozen=True, slots=True)
class Role:
    """What this head is now: leader of ``term`` or a follower of ``holder``; ``error`` when etcd does not answer."""

    leader: bool = False
    term: int = 0
    holder: str = ""
    lease: int = 0
    error: str = ""

    def describe(self) -> str:
        if self.leader:
            return f"leader of term {self.term}"
        who = f"follower of {self.holder} (term {self.term})" if self.holder else "follower (no leader known)"
        return who + (f": {self.error}" if self.error else "")


class Leadership:
    """The lease, the campaign and the step-down of one head; :meth:`role` is safe from any thread."""

    def __init__(self, client: Etcd, name: str, key: str, ttl_s: int,
                 monotonic: Callable[[], float] = time.monotonic,
                 on_change: Callable[[Role, Role], None] | None = None) -> None:
        self._etcd = client
        self.name = name
        self.key = key
        self._ttl = ttl_s
        self._mono = monotonic
        self._on_change = on_change
        self._lock = threading.Lock()
        self._role = Role(error="not campaigned yet")
        self._valid_until = 0.0
        self._refreshed_at = -1e9
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    @property
    def poll_s(self) -> float:
        """How often the thread refreshes and campaigns: a third of the TTL, at most every second."""
        return min(1.0, self._ttl / 3)

    def role(self) -> Role:
        """The role now; a leader whose lease was not refreshed in time is a follower from here on."""
        with self._lock:
            if self._role.leader and self._mono() >= self._valid_until:
                self._set(replace(self._role, leader=False, holder="", error="lease not refreshed in time"))
            return self._role

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="ha-leadership", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Stop campaigning; a leader revokes its lease so that the other head takes over at once."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(self._ttl)
        lease = self._role.lease
        if lease:
            try:
                self._etcd.revoke(lease)
            except CoordinationError as exc:
                log.warning("lease not revoked; the other head takes over when it expires", error=str(exc))
        with self._lock:
            self._set(Role(error="stopped"))

    def fenced(self, term: int, ops: Sequence[dict[str, Any]]) -> None:
        """Run ``ops`` only while this head leads ``term``; FencedError otherwise (nothing written then)."""
        role = self.role()
        if not role.leader or role.term != term:
            raise FencedError(f"not started: this head is {role.describe()}, the move was planned in term {term}")
        fence = [etcd.compare_created(self.key, term), etcd.compare_lease(self.key, role.lease)]
        try:
            result = self._etcd.txn(fence, ops)
        except CoordinationError as exc:
            raise FencedError(f"not started: the fence could not be checked ({exc})") from exc
        if not result.succeeded:
            with self._lock:
                self._set(replace(self._role, leader=False, error="fence failed: the leader key changed"))
            raise FencedError(f"not started: term {term} ended (the leader key is no longer this head's)")

    # -- the thread -----------------------------------------------------------------------------------

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self.step()
            except CoordinationError as exc:
                self._failed(str(exc))
            except Exception as exc:  # the thread must outlive any surprise: it is what keeps the role true
                log.exception("leadership round crashed")
                self._failed(f"leadership round crashed: {type(exc).__name__}: {exc}")
            self._stop.wait(self.poll_s)

    def step(self) -> None:
        """One round: a lease if there is none, a refresh when due, then the campaign."""
        lease = self._role.lease
        if not lease:
            sent = self._mono()
            lease = self._etcd.grant(self._ttl)
            self._refreshed_at = sent
        elif self._mono() - self._refreshed_at >= self._ttl / 3:
            sent = self._mono()
            if self._etcd.keepalive(lease) <= 0:
                with self._lock:
                    self._set(Role(error="lease expired"))
                return
            self._refreshed_at = sent
        self._campaign(lease)

    def _campaign(self, lease: int) -> None:
        try:
            result = self._etcd.txn([etcd.compare_created(self.key, 0)],
                                    [etcd.put(self.key, self.name.encode(), lease)], [etcd.get(self.key)])
        except CoordinationError as exc:
            if "lease not found" not in str(exc).lower():
                raise
            with self._lock:  # revoked or expired under us: a new lease next round
                self._set(Role(error="lease expired"))
            return
        with self._lock:
            self._valid_until = self._refreshed_at + self._ttl - MARGIN_S
            if result.succeeded:
                self._set(Role(True, result.revision, self.name, lease))
                return
            holder = result.ranges[0][0] if result.ranges and result.ranges[0] else None
            if holder is None:
                self._set(Role(False, 0, "", lease, "the leader key vanished between compare and read"))
            elif holder.lease == lease:
                self._set(Role(self._mono() < self._valid_until, holder.create_revision, self.name, lease))
            else:
                self._set(Role(False, holder.create_revision, holder.value.decode(errors="replace"), lease))

    def _failed(self, error: str) -> None:
        with self._lock:
            leading = self._role.leader and self._mono() < self._valid_until
            self._set(replace(self._role, leader=leading, error=error))

    def _set(self, role: Role) -> None:
        """Change the role (the lock held); tell ``on_change`` when leadership or the term changed."""
        before, self._role = self._role, role
        changed = (before.leader, before.term, before.holder, bool(before.error)) != (
            role.leader, role.term, role.holder, bool(role.error))
        if changed and self._on_change is not None:
            self._on_change(before, role)
