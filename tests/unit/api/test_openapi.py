"""The OpenAPI document: valid OpenAPI 3.1, every served route described and every described route served."""

from __future__ import annotations

from pathlib import Path

import pytest

from balancerd.api import app, openapi, validate
from balancerd.api.auth import PeerAuth
from balancerd.api.routes import ROUTES
from tests.unit.api.fakes import FakeControl, call, control_config, serving


def _served() -> set[tuple[str, str]]:
    application = app.build(FakeControl(), PeerAuth.default())
    return {(r.method.lower(), r.resource.canonical) for r in application.router.routes() if r.resource is not None}


def _described() -> set[tuple[str, str]]:
    return {(method, path) for path, ops in openapi.document()["paths"].items() for method in ops}


def test_every_served_route_is_described_and_every_described_route_served() -> None:
    assert _served() == _described()
    assert len(_served()) == len(ROUTES) + 1


def test_the_document_is_valid_openapi_3_1() -> None:
    validator = pytest.importorskip("openapi_spec_validator")
    validator.validate(openapi.document())


def test_parameters_and_bodies_are_described_with_the_schemas_that_check_them() -> None:
    paths = openapi.document()["paths"]
    approve = paths["/v1/approve/{plan_id}"]["post"]
    assert approve["parameters"][0]["schema"] == {"type": "integer", "minimum": 1, "maximum": 2**63 - 1}
    assert {"403", "404", "409"} <= set(approve["responses"])
    maintenance = paths["/v1/maintenance/{host}"]["post"]["requestBody"]
    assert maintenance["required"] is True
    assert maintenance["content"]["application/json"]["schema"]["properties"]["action"]["enum"] == ["enter", "exit"]
    assert "403" not in paths["/v1/status"]["get"]["responses"]
    release = paths["/v1/release/{vm}"]["post"]
    assert release["parameters"][0]["schema"]["pattern"] == validate.NAME_SCHEMA["pattern"]
    assert "403" in release["responses"]


def test_the_served_document_is_the_built_one(tmp_path: Path) -> None:
    with serving(control_config(tmp_path / "c.sock")) as (_server, control):
        assert call(tmp_path / "c.sock", "GET", "/openapi.json") == (200, openapi.document())
        assert control.calls == []


def test_operation_ids() -> None:
    assert openapi.operation_id("POST", "/v1/approve/{plan_id}") == "post_v1_approve_plan_id"
    assert openapi.operation_id("GET", "/openapi.json") == "get_openapi_json"
