"""What every test shares: structlog and the standard library's root logger back as they were after each test.

``balancerd`` entry points called in-process (``cli.main``) configure structlog for the process, with a level
filter; without a reset, a later test's ``capture_logs`` would miss events below that level, so results
depended on test order (tests/unit/service/test_oneshot.py before tests/unit/api/test_app.py failed). The
root logger's handlers are restored too: the one ``configure`` installs writes to that test's captured stdout.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path

import pytest
import structlog

from tests import etcdserver


@pytest.fixture(autouse=True)
def _reset_structlog() -> Iterator[None]:
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    yield
    structlog.reset_defaults()
    root.handlers[:] = handlers
    root.setLevel(level)


@pytest.fixture(scope="module")
def etcd_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[etcdserver.EtcdServer]:
    """A real etcd shared by a module's tests (tests/etcdserver.py); each keeps to its own key prefix."""
    yield from etcdserver.running_etcd(tmp_path_factory.mktemp("etcd"))


@pytest.fixture
def private_etcd(tmp_path: Path) -> Iterator[etcdserver.EtcdServer]:
    """An etcd of this test only: for the tests that stop, restart or freeze it."""
    yield from etcdserver.running_etcd(tmp_path / "etcd")
