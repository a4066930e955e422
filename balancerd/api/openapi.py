"""The OpenAPI 3.1 description of the control API, built from the route table.

Called once by :mod:`balancerd.api.app`, which serves it at ``GET /openapi.json``. Everything comes from
:data:`balancerd.api.routes.ROUTES` (paths, parameters and their schemas, body schemas, error statuses), so
a served route is always described and a described route always served.
"""

from __future__ import annotations

from typing import Any

from balancerd.api.routes import OPENAPI_PATH, ROUTES, Route

_ERROR = {"$ref": "#/components/schemas/Error"}
_COMMON_ERRORS = {
    "400": "malformed request (bad JSON, wrong type, unknown field, refused name or plan id); nothing was done",
    "401": "over TCP: missing or wrong bearer token",
    "500": "the daemon failed to answer (the error is logged); the server goes on",
}
_STATUS_TEXT = {403: "over the Unix socket: the caller is not root; nothing was done",
                404: "the named VM, host or plan does not exist",
                409: "the call does not fit the daemon's state (no plan yet, mode enforce, plan too old, ...)"}


def document() -> dict[str, Any]:
    """The whole OpenAPI 3.1 document."""
    paths: dict[str, dict[str, Any]] = {}
    for route in ROUTES:
        paths.setdefault(route.path, {})[route.method.lower()] = operation(route)
    paths[OPENAPI_PATH] = {"get": _openapi_operation()}
    return {
        "openapi": "3.1.0",
        "info": {"title": "balancerd control API", "version": "1",
                 "description": "JSON over HTTP on the daemon's Unix socket (mode 0660), optionally over TCP "
                                "with TLS and a bearer token. Errors are {\"error\": \"...\"}."},
        "paths": paths,
        "components": {
            "schemas": {"Error": {"type": "object", "required": ["error"],
                                  "properties": {"error": {"type": "string"}}}},
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer",
                                           "description": "the content of [control] token_file (TCP only)"}},
        },
        "security": [{}, {"bearer": []}],
    }


def operation(route: Route) -> dict[str, Any]:
    """One route's operation object."""
    described: dict[str, Any] = {"operationId": operation_id(route.method, route.path), "summary": route.summary,
                                 "responses": _responses(route)}
    if route.params:
        described["parameters"] = [{"name": p.name, "in": "path", "required": True, "description": p.description,
                                    "schema": dict(p.schema)} for p in route.params]
    if route.body is not None:
        described["requestBody"] = {"required": bool(route.body.get("required")),
                                    "content": {"application/json": {"schema": dict(route.body)}}}
    return described


def operation_id(method: str, path: str) -> str:
    """``POST /v1/approve/{plan_id}`` -> ``post_v1_approve_plan_id``."""
    parts = [p.strip("{}").replace(".", "_") for p in path.split("/") if p]
    return "_".join([method.lower(), *parts])


def _responses(route: Route) -> dict[str, Any]:
    answers: dict[str, Any] = {"200": {"description": "the daemon's answer",
                                       "content": {"application/json": {"schema": {"type": "object"}}}}}
    statuses = {int(code): text for code, text in _COMMON_ERRORS.items()}
    statuses |= {code: _STATUS_TEXT[code] for code in route.errors}
    if route.mutating:
        statuses[403] = _STATUS_TEXT[403]
    for code in sorted(statuses):
        answers[str(code)] = _error_response(statuses[code])
    return answers


def _error_response(description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": _ERROR}}}


def _openapi_operation() -> dict[str, Any]:
    return {"operationId": operation_id("GET", OPENAPI_PATH), "summary": "This description (OpenAPI 3.1).",
            "responses": {"200": {"description": "the OpenAPI document",
                                  "content": {"application/json": {"schema": {"type": "object"}}}},
                          "401": _error_response(_COMMON_ERRORS["401"])}}
