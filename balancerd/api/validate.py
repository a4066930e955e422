"""Checks of what a request carries, before anything reaches the daemon.

Called by :mod:`balancerd.api.app` for every request, with the schemas :mod:`balancerd.api.routes` declares
(the same schemas :mod:`balancerd.api.openapi` publishes, so the description and the checks cannot drift).
A path parameter is a VM or host name (no ``/``, no ``..``, no control character such as a newline, at most
255 characters) or a plan id (a positive integer). A body is a JSON object checked against a small subset of
JSON Schema: ``type`` object with ``properties`` of type boolean or string (with ``enum``), ``required`` and
``additionalProperties: false``. Every failure is a :class:`~balancerd.api.errors.RequestError` naming what
is wrong.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any

from balancerd.api.errors import RequestError

MAX_PLAN_ID = 2**63 - 1  # SQLite's largest integer

NAME_SCHEMA: Mapping[str, Any] = {
    "type": "string", "minLength": 1, "maxLength": 255,
    "pattern": "^(?!.*\\.\\.)[^/\\u0000-\\u001f\\u007f]+$",
    "description": "a VM or host name: no '/', no '..', no control character (newline, tab, NUL, ...)",
}
PLAN_ID_SCHEMA: Mapping[str, Any] = {"type": "integer", "minimum": 1, "maximum": MAX_PLAN_ID}
_NAME = re.compile(NAME_SCHEMA["pattern"])
_PLAN_ID = re.compile("[1-9][0-9]{0,18}")
_JSON_TYPES: Mapping[str, type] = {"boolean": bool, "string": str, "object": dict}


def name(kind: str, value: str) -> str:
    """``value`` when it is a safe VM or host name; else RequestError saying why."""
    if not value or len(value) > NAME_SCHEMA["maxLength"]:
        raise RequestError(f"{kind} name must have 1 to {NAME_SCHEMA['maxLength']} characters")
    if _NAME.match(value) is None:
        raise RequestError(f"{kind} name {value!r} is refused: it holds '/', '..' or a control character")
    return value


def plan_id(value: str) -> int:
    """``value`` as a plan id (a positive integer); else RequestError."""
    if _PLAN_ID.fullmatch(value) is None or int(value) > MAX_PLAN_ID:
        raise RequestError(f"plan id must be a positive integer, got {value!r}")
    return int(value)


def body(schema: Mapping[str, Any], raw: bytes) -> dict[str, Any]:
    """The JSON object in ``raw`` (an empty body is ``{}``), checked against ``schema``."""
    document = _parse(raw) if raw.strip() else {}
    if not isinstance(document, dict):
        raise RequestError(f"request body must be a JSON object, got {type(document).__name__}")
    properties: Mapping[str, Mapping[str, Any]] = schema.get("properties", {})
    unknown = sorted(set(document) - set(properties))
    if unknown and schema.get("additionalProperties") is False:
        raise RequestError(f"unknown field(s) {', '.join(unknown)}; allowed: {', '.join(properties) or 'none'}")
    missing = [key for key in schema.get("required", ()) if key not in document]
    if missing:
        raise RequestError(f"missing field(s): {', '.join(missing)}")
    for key, value in document.items():
        _check_field(key, value, properties[key])
    return document


def _parse(raw: bytes) -> Any:
    try:
        return json.loads(raw, parse_constant=_refuse_constant)
    except (UnicodeDecodeError, ValueError) as exc:
        raise RequestError(f"request body is not valid JSON: {exc}") from exc


def _refuse_constant(token: str) -> Any:
    raise ValueError(f"{token} is not JSON")


def _check_field(key: str, value: Any, schema: Mapping[str, Any]) -> None:
    expected = _JSON_TYPES[schema["type"]]
    if not isinstance(value, expected):
        raise RequestError(f"field {key!r} must be a {schema['type']}, got {json.dumps(value)}")
    allowed = schema.get("enum")
    if allowed is not None and value not in allowed:
        raise RequestError(f"field {key!r} must be one of {', '.join(map(json.dumps, allowed))}, "
                           f"got {json.dumps(value)}")
