"""A small client of the control API over its Unix socket, for ``balancerctl``.

Called by :mod:`balancerd.ctl.cli`. Each method is one route of :mod:`balancerd.api.routes` and returns the
daemon's JSON answer. Nothing listening (no socket file, connection refused) raises
:class:`~balancerd.api.errors.NotListeningError`, so ``balancerctl`` can say "not running" or fall back to
the maintenance file; an error answer raises :class:`~balancerd.api.errors.RefusedError` with the status and
the server's reason; anything else (permission denied on the socket, a timeout, a broken answer)
:class:`~balancerd.api.errors.ApiClientError`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx

from balancerd.api.errors import ApiClientError, NotListeningError, RefusedError

CONNECT_TIMEOUT_S = 2.0
READ_TIMEOUT_S = 120.0  # pause --abort-running waits for the aborted migrations to end


class ControlClient:
    """The daemon's control API at ``socket``."""

    def __init__(self, socket: Path, read_timeout_s: float = READ_TIMEOUT_S) -> None:
        self.socket = socket
        self._timeout = httpx.Timeout(read_timeout_s, connect=CONNECT_TIMEOUT_S)

    def status(self) -> dict[str, Any]:
        return self.request("GET", "/v1/status")

    def plan(self) -> dict[str, Any]:
        return self.request("GET", "/v1/plan")

    def explain(self, vm: str) -> dict[str, Any]:
        return self.request("GET", f"/v1/explain/{_segment(vm)}")

    def drain_check(self, host: str) -> dict[str, Any]:
        return self.request("GET", f"/v1/drain/{_segment(host)}/check")

    def maintenance(self, host: str, enter: bool, force: bool = False, restore: bool = False) -> dict[str, Any]:
        body: dict[str, Any] = {"action": "enter" if enter else "exit"}
        if force:
            body["force"] = True
        if restore:
            body["restore"] = True
        return self.request("POST", f"/v1/maintenance/{_segment(host)}", body)

    def pause(self, abort_running: bool) -> dict[str, Any]:
        return self.request("POST", "/v1/pause", {"abort_running": abort_running})

    def resume(self) -> dict[str, Any]:
        return self.request("POST", "/v1/resume", {})

    def approve(self, plan_id: int) -> dict[str, Any]:
        return self.request("POST", f"/v1/approve/{plan_id}", {})

    def release(self, vm: str) -> dict[str, Any]:
        return self.request("POST", f"/v1/release/{_segment(vm)}", {})

    def request(self, method: str, path: str, body: dict[str, Any] | None = None) -> dict[str, Any]:
        """One call; its JSON object answer, or one of the ApiClientError family."""
        if not self.socket.exists():
            raise NotListeningError(f"no control socket at {self.socket}")
        try:
            with httpx.Client(transport=httpx.HTTPTransport(uds=str(self.socket)), base_url="http://balancerd",
                              timeout=self._timeout) as client:
                response = client.request(method, path, json=body)
        except httpx.ConnectError as exc:
            raise _connect_error(self.socket, exc) from exc
        except httpx.HTTPError as exc:
            raise ApiClientError(f"the control API on {self.socket} did not answer: {exc}") from exc
        return _answer(response)


def _segment(name: str) -> str:
    """``name`` as one path segment (a '/' in it reaches the server, which refuses it with its reason)."""
    return quote(name, safe="")


def _connect_error(socket: Path, exc: httpx.ConnectError) -> ApiClientError:
    cause = _root_cause(exc)
    if isinstance(cause, PermissionError):
        return ApiClientError(f"permission denied on {socket}: reading needs the socket's group, "
                              "changing anything needs root")
    if isinstance(cause, (ConnectionRefusedError, FileNotFoundError)) or "refused" in str(exc).lower():
        return NotListeningError(f"nothing listens on {socket}")
    return ApiClientError(f"cannot connect to {socket}: {exc}")


def _root_cause(exc: BaseException) -> BaseException:
    cause: BaseException = exc
    while (deeper := cause.__cause__ or cause.__context__) is not None:
        cause = deeper
    return cause


def _answer(response: httpx.Response) -> dict[str, Any]:
    try:
        document = response.json()
    except ValueError as exc:
        raise ApiClientError(f"the control API answered {response.status_code} without JSON") from exc
    if response.status_code >= 400:
        reason = document.get("error") if isinstance(document, dict) else None
        raise RefusedError(response.status_code, str(reason or document))
    if not isinstance(document, dict):
        raise ApiClientError(f"the control API answered {type(document).__name__}, not a JSON object")
    return document
