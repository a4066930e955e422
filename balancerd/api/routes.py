"""The control API's routes, in one table: path, method, parameters, body schema and the call on Control.

:mod:`balancerd.api.app` serves exactly these routes and :mod:`balancerd.api.openapi` describes exactly these,
so the description cannot miss a route. Each route's :attr:`Route.call` runs in a worker thread (a Control
call may block) with the checked parameters and body and the :class:`~balancerd.api.protocol.Caller`. Every
``POST`` mutates: over the Unix socket only root (or the daemon's own user) may make it.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from balancerd.api import validate
from balancerd.api.protocol import Caller, Control

OPENAPI_PATH = "/openapi.json"
NO_BODY: Mapping[str, Any] = {"type": "object", "properties": {}, "additionalProperties": False}
MAINTENANCE_BODY: Mapping[str, Any] = {
    "type": "object", "required": ["action"], "additionalProperties": False,
    "properties": {"action": {"type": "string", "enum": ["enter", "exit"],
                              "description": "enter: put the host into maintenance (drain it); exit: take it out"},
                   "force": {"type": "boolean", "default": False,
                             "description": "with enter: drain what fits even when the whole evacuation does not "
                                            "(the rest stays, with its reasons)"},
                   "restore": {"type": "boolean", "default": False,
                               "description": "with exit: bring the VMs drained off the host back to it"}},
}
PAUSE_BODY: Mapping[str, Any] = {
    "type": "object", "additionalProperties": False,
    "properties": {"abort_running": {"type": "boolean", "default": False,
                                     "description": "also abort the migrations running now (the VMs stay put)"}},
}


@dataclass(frozen=True, slots=True)
class Args:
    """What a handler passes to a route's call: checked path parameters, checked body, the caller."""

    params: Mapping[str, Any]
    body: Mapping[str, Any]
    caller: Caller


@dataclass(frozen=True, slots=True)
class Param:
    """A path parameter: its name, how it is checked and its JSON schema."""

    name: str
    check: Callable[[str], Any]
    schema: Mapping[str, Any]
    description: str


@dataclass(frozen=True, slots=True)
class Route:
    """One served route."""

    method: str
    path: str
    summary: str
    call: Callable[[Control, Args], dict[str, Any]]
    params: tuple[Param, ...] = ()
    body: Mapping[str, Any] | None = None
    errors: tuple[int, ...] = ()
    """The ControlError statuses the call may answer with, besides the ones every route has."""

    @property
    def mutating(self) -> bool:
        """POST routes change the daemon's state."""
        return self.method == "POST"


VM = Param("vm", lambda value: validate.name("VM", value), validate.NAME_SCHEMA, "the VM's name")
HOST = Param("host", lambda value: validate.name("host", value), validate.NAME_SCHEMA, "the host's name")
PLAN_ID = Param("plan_id", validate.plan_id, validate.PLAN_ID_SCHEMA, "a plan id (GET /v1/plan's plan_id)")

ROUTES: tuple[Route, ...] = (
    Route("GET", "/v1/status", "The status document (what `balancerctl status` shows), pause included.",
          lambda c, a: c.status()),
    Route("GET", "/v1/plan", "The plan the executor works from: plan_id, snapshot_seq, moves with their state.",
          lambda c, a: c.plan(), errors=(409,)),
    Route("GET", "/v1/explain/{vm}", "Why a VM moves or stays in the current plan, with pre-flight checks.",
          lambda c, a: c.explain(a.params["vm"]), params=(VM,), errors=(404, 409)),
    Route("GET", "/v1/drain/{host}/check", "The drain proof of a host: its whole evacuation in order with "
          "estimated seconds, or the VMs with nowhere to go; nothing changes.",
          lambda c, a: c.drain_check(a.params["host"]), params=(HOST,), errors=(404, 409)),
    Route("POST", "/v1/maintenance/{host}", "Put a host into maintenance or take it out; the new maintenance set.",
          lambda c, a: c.maintenance(a.params["host"], a.body["action"] == "enter", a.caller,
                                     bool(a.body.get("force", False)), bool(a.body.get("restore", False))),
          params=(HOST,), body=MAINTENANCE_BODY, errors=(404,)),
    Route("POST", "/v1/pause", "Start no new migration from now on; optionally abort the running ones.",
          lambda c, a: c.pause(bool(a.body.get("abort_running", False)), a.caller), body=PAUSE_BODY),
    Route("POST", "/v1/resume", "Undo a pause made through the API (a pause file still pauses).",
          lambda c, a: c.resume(a.caller), body=NO_BODY),
    Route("POST", "/v1/approve/{plan_id}", "Mode recommend: execute a recorded plan after re-validating it.",
          lambda c, a: c.approve(a.params["plan_id"], a.caller), params=(PLAN_ID,), body=NO_BODY,
          errors=(404, 409)),
    Route("POST", "/v1/release/{vm}", "Forget a VM's failed moves (held or backing off); the records cleared.",
          lambda c, a: c.release(a.params["vm"], a.caller), params=(VM,), body=NO_BODY),
)
