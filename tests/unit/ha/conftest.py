"""A key prefix per test and a client of the module's etcd (the ``etcd_server`` fixture of tests/conftest.py).

Tests that stop or freeze etcd take their own server (``private_etcd``); the others share the module's and keep
apart by their prefix.
"""

from __future__ import annotations

import pytest

from balancerd.config import HaConfig
from balancerd.ha.etcd import Etcd
from tests import etcdserver
from tests.etcdserver import key_prefix

TIMEOUT_S = 1.0
"""The request timeout of the tests' clients: a stopped etcd answers at once, so this is only a bound."""


def ha_config(*urls: str) -> HaConfig:
    return HaConfig(etcd_endpoints=urls, request_timeout_s=TIMEOUT_S)


@pytest.fixture
def prefix(request: pytest.FixtureRequest) -> str:
    return key_prefix(request.node.name)


@pytest.fixture
def client(etcd_server: etcdserver.EtcdServer) -> Etcd:
    return Etcd(ha_config(etcd_server.url))
