"""What the control API needs from a running daemon: the :class:`Control` protocol and its errors.

The HTTP server (:mod:`balancerd.api.server`) turns requests into calls on a :class:`Control`;
``balancerd.service.control`` implements it over the daemon's parts. Answers are JSON-able dicts; a call that
cannot be honoured raises a :class:`ControlError` whose ``status`` is the HTTP status the server answers with.
Mutating calls receive the :class:`Caller` (from the socket's peer credentials, or the token over TCP) so the
daemon can journal who did what.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

from balancerd.errors import BalancerdError


@dataclass(frozen=True, slots=True)
class Caller:
    """Who made a request: the peer's uid and pid on the Unix socket; uid None over TCP (token holder)."""

    uid: int | None
    pid: int | None = None
    via: str = "unix"

    def describe(self) -> str:
        """How the journal names the caller."""
        if self.uid is None:
            return f"token holder via {self.via}"
        return f"uid {self.uid}" + (f" (pid {self.pid})" if self.pid is not None else "")


class ControlError(BalancerdError):
    """A control call the daemon refuses; ``status`` is the HTTP status the server answers with."""

    status = 400

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class NotFoundError(ControlError):
    """The named VM, host or plan does not exist."""

    status = 404


class ConflictError(ControlError):
    """The call does not fit the daemon's state (approve in mode enforce, a plan too old, ...)."""

    status = 409


class Control(Protocol):
    """The daemon as the API sees it. Every method is safe to call from any thread."""

    def status(self) -> dict[str, Any]:
        """The status document (what ``balancerctl status --json`` prints), ``paused`` included."""
        ...

    def plan(self) -> dict[str, Any]:
        """The plan the executor works from: ``plan_id``, ``snapshot_seq``, ``mode``, ``created_at``,
        ``moves`` (each with ``vm``, ``source``, ``dest``, ``kind``, ``reason``, ``state``), ``skipped``."""
        ...

    def explain(self, vm: str) -> dict[str, Any]:
        """Why ``vm`` moves or stays in the current plan (``reasons``), its pre-flight checks (``preflight``) and its
        failure memory (``failures``); raises NotFoundError for an unknown VM."""
        ...

    def drain_check(self, host: str) -> dict[str, Any]:
        """The evacuation ``host`` gets or would get (the drain proof), changing nothing."""
        ...

    def maintenance(self, host: str, enter: bool, caller: Caller, force: bool = False,
                    restore: bool = False) -> dict[str, Any]:
        """Put ``host`` into maintenance (enter; ``force``: drain what fits even when the whole evacuation does
        not) or take it out (``restore``: its drained VMs come back); the new maintenance set."""
        ...

    def pause(self, abort_running: bool, caller: Caller) -> dict[str, Any]:
        """Start no new migration from the moment this returns; optionally abort the running ones."""
        ...

    def resume(self, caller: Caller) -> dict[str, Any]:
        """Undo a pause made through the API (a pause file still pauses)."""
        ...

    def approve(self, plan_id: int, caller: Caller) -> dict[str, Any]:
        """In mode recommend: execute recorded plan ``plan_id`` after re-validating its moves."""
        ...

    def release(self, vm: str, caller: Caller) -> dict[str, Any]:
        """Forget ``vm``'s failure memory (every destination): ``vm``, ``released``, ``cleared`` records."""
        ...
