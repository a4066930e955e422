"""The aiohttp application of the control API: the routes of :mod:`balancerd.api.routes` and two middlewares.

Built by :class:`balancerd.api.server.ApiServer`, once per listener (the Unix socket with
:class:`~balancerd.api.auth.PeerAuth`, the TCP listener with :class:`~balancerd.api.auth.TokenAuth`).
The outer middleware turns every failure into ``{"error": "..."}``: a malformed request (4xx, the daemon is
never asked), a :class:`~balancerd.api.protocol.ControlError` (its status), an unknown route (404) or method
(405), anything else (500, logged; the server goes on). The inner one authenticates every request. Control
calls run in the loop's default executor, so a slow call never blocks the loop.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

import structlog
from aiohttp import web
from aiohttp.typedefs import Middleware

from balancerd.api import openapi, validate
from balancerd.api.auth import Authenticator
from balancerd.api.errors import RequestError
from balancerd.api.protocol import Caller, Control, ControlError
from balancerd.api.routes import OPENAPI_PATH, ROUTES, Args, Route

log = structlog.get_logger("balancerd.api")

MAX_BODY_BYTES = 64 * 1024
_CALLER = web.RequestKey("balancerd.caller", Caller)
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def build(control: Control, auth: Authenticator) -> web.Application:
    """The application serving every route of the table, plus ``GET /openapi.json``."""
    app = web.Application(middlewares=[_errors, _authenticating(auth)], client_max_size=MAX_BODY_BYTES)
    for route in ROUTES:
        app.router.add_route(route.method, route.path, _handler(control, route))
    app.router.add_route("GET", OPENAPI_PATH, _static_json(openapi.document()))
    return app


def error_response(status: int, message: str) -> web.Response:
    """``{"error": message}`` with ``status`` (and the challenge header on 401)."""
    headers = {"WWW-Authenticate": 'Bearer realm="balancerd"'} if status == 401 else None
    return web.json_response({"error": message}, status=status, headers=headers)


@web.middleware
async def _errors(request: web.Request, handler: Handler) -> web.StreamResponse:
    try:
        return await handler(request)
    except RequestError as exc:
        return error_response(exc.status, exc.message)
    except ControlError as exc:
        log.info("api call refused", method=request.method, path=request.path, status=exc.status,
                 reason=exc.message)
        return error_response(exc.status, exc.message)
    except web.HTTPException as exc:
        return error_response(exc.status, _http_reason(request, exc))
    except Exception as exc:
        log.error("api call failed", method=request.method, path=request.path, error=f"{type(exc).__name__}: {exc}",
                  exc_info=True)
        return error_response(500, f"internal error: {type(exc).__name__}: {exc}")


def _http_reason(request: web.Request, exc: web.HTTPException) -> str:
    if exc.status == 404:
        return f"no route {request.method} {request.path}; GET {OPENAPI_PATH} lists the routes"
    if isinstance(exc, web.HTTPMethodNotAllowed):
        return f"{request.method} is not allowed on {request.path}; allowed: {', '.join(sorted(exc.allowed_methods))}"
    return exc.text or exc.reason


def _authenticating(auth: Authenticator) -> Middleware:
    @web.middleware
    async def authenticate(request: web.Request, handler: Handler) -> web.StreamResponse:
        request[_CALLER] = auth.caller(request, mutating=request.method not in ("GET", "HEAD"))
        return await handler(request)

    return authenticate


def _handler(control: Control, route: Route) -> Handler:
    async def handle(request: web.Request) -> web.StreamResponse:
        caller = request[_CALLER]
        args = Args(params=_params(route, request.match_info), body=await _body(route, request), caller=caller)
        answer = await asyncio.get_running_loop().run_in_executor(None, route.call, control, args)
        if route.mutating:
            log.info("api action", method=route.method, path=request.path, caller=caller.describe())
        return web.json_response(answer)

    return handle


def _params(route: Route, matched: Mapping[str, str]) -> dict[str, Any]:
    return {param.name: param.check(matched[param.name]) for param in route.params}


async def _body(route: Route, request: web.Request) -> dict[str, Any]:
    if route.body is None:
        return {}
    return validate.body(route.body, await request.read())


def _static_json(document: dict[str, Any]) -> Handler:
    async def serve(_request: web.Request) -> web.StreamResponse:
        return web.json_response(document)

    return serve
