"""What the API tests share: a Control that records its calls, a server on a real socket, a raw client."""

from __future__ import annotations

import http.client
import json
import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path
from typing import Any

from balancerd.api.protocol import Caller
from balancerd.api.server import ApiServer
from balancerd.config.schema import ControlConfig

PLAN = {"plan_id": 12, "snapshot_seq": 34, "created_at": 100.0, "origin": "recommend", "executing": False,
        "strategy": "balance",
        "moves": [{"vm": "web1", "source": "host01", "dest": "host02", "kind": "live", "reason": "host01 hot",
                   "memory_mib": 2048, "state": "recommended", "detail": ""},
                  {"vm": "db1", "source": "host03", "dest": "host02", "kind": "cold", "reason": "drain host03",
                   "memory_mib": 4096, "state": "running", "detail": ""}],
        "skipped": [{"vm": "big", "reasons": ["no host has room"]}], "in_flight": []}
STATUS = {"pid": 4242, "mode": "recommend", "cycle": 5, "imbalance": 0.125, "plan": {"moves": 2},
          "paused": False, "hosts": [{"name": "host01", "reachable": True, "maintenance": False, "vms": 3,
                                      "vms_mem_mib": 6144, "cpu_util": 0.5, "memory_util": 0.25}]}
DRAIN_CHECK = {"host": "host01", "feasible": True, "forced": False, "drains": True, "estimated_s": 42.0,
               "moves": [{"vm": "web1", "dest": "host02", "kind": "live", "seconds": 30.0},
                         {"vm": "db1", "dest": "host03", "kind": "live", "seconds": 12.0}],
               "blockers": [], "after": [], "source": "daemon", "snapshot_seq": 34, "taken_at": 100.0}


class FakeControl:
    """A Control that records every call; ``fail[name]`` makes that call raise; ``hold[name]`` makes it wait."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, tuple[Any, ...]]] = []
        self.fail: dict[str, BaseException] = {}
        self.hold: dict[str, threading.Event] = {}
        self.entered: dict[str, threading.Event] = {}
        self._lock = threading.Lock()

    def _call(self, name: str, *args: Any) -> None:
        with self._lock:
            self.calls.append((name, args))
        if name in self.hold:
            self.entered.setdefault(name, threading.Event()).set()
            assert self.hold[name].wait(10), f"{name} was never released"
        if name in self.fail:
            raise self.fail[name]

    def names(self) -> list[str]:
        return [name for name, _ in self.calls]

    def status(self) -> dict[str, Any]:
        self._call("status")
        return dict(STATUS)

    def plan(self) -> dict[str, Any]:
        self._call("plan")
        return dict(PLAN)

    def explain(self, vm: str) -> dict[str, Any]:
        self._call("explain", vm)
        return {"vm": vm, "plan_id": 12, "snapshot_seq": 34, "reasons": [f"{vm} stays: gain too small"],
                "preflight": [{"vm": vm, "dest": "host02", "skip_reason": None,
                               "checks": [{"name": "cpu", "ok": True, "detail": "compatible"}]}]}

    def drain_check(self, host: str) -> dict[str, Any]:
        self._call("drain_check", host)
        return {**DRAIN_CHECK, "host": host, "feasible": host != "host03"}

    def maintenance(self, host: str, enter: bool, caller: Caller, force: bool = False,
                    restore: bool = False) -> dict[str, Any]:
        self._call("maintenance", host, enter, caller, force, restore)
        return {"host": host, "changed": True, "maintenance": [host] if enter else []}

    def pause(self, abort_running: bool, caller: Caller) -> dict[str, Any]:
        self._call("pause", abort_running, caller)
        aborted = [{"vm": "web1", "source": "host01", "verified": True}] if abort_running else []
        return {"paused": True, "by": caller.describe(), "at": 1.0, "aborted": aborted}

    def resume(self, caller: Caller) -> dict[str, Any]:
        self._call("resume", caller)
        return {"paused": False, "reason": None}

    def approve(self, plan_id: int, caller: Caller) -> dict[str, Any]:
        self._call("approve", plan_id, caller)
        return {"plan_id": plan_id, "accepted": [PLAN["moves"][0]], "skipped": [{"vm": "db1", "reason": "moved"}]}

    def release(self, vm: str, caller: Caller) -> dict[str, Any]:
        self._call("release", vm, caller)
        return {"vm": vm, "released": True, "offline": False, "cleared": []}


def control_config(socket_path: Path, **changes: Any) -> ControlConfig:
    """A [control] table with the socket at ``socket_path`` (and the state files beside it)."""
    base = ControlConfig(socket=socket_path, pause_file=socket_path.parent / "pause",
                         pause_state=socket_path.parent / "paused.json")
    return replace(base, **changes)


@contextmanager
def serving(config: ControlConfig, control: FakeControl | None = None) -> Iterator[tuple[ApiServer, FakeControl]]:
    """A started ApiServer over ``control`` (a new FakeControl by default), stopped afterwards."""
    control = control or FakeControl()
    server = ApiServer(control, config)
    server.start()
    try:
        yield server, control
    finally:
        server.stop()


class _UnixConnection(http.client.HTTPConnection):
    def __init__(self, path: Path) -> None:
        super().__init__("balancerd", timeout=10)
        self._path = path

    def connect(self) -> None:
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(10)
        self.sock.connect(str(self._path))


def call(path: Path, method: str, target: str, body: bytes | str | None = None) -> tuple[int, Any]:
    """One request over the Unix socket with the standard library; the status and the decoded JSON answer."""
    connection = _UnixConnection(path)
    try:
        payload = body.encode() if isinstance(body, str) else body
        headers = {"Content-Type": "application/json"} if payload is not None else {}
        connection.request(method, target, body=payload, headers=headers)
        response = connection.getresponse()
        return response.status, json.loads(response.read())
    finally:
        connection.close()
