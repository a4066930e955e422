"""What every test shares: structlog and the standard library's root logger back as they were after each test.

``balancerd`` entry points called in-process (``cli.main``) configure structlog for the process, with a level
filter; without a reset, a later test's ``capture_logs`` would miss events below that level, so results
depended on test order (tests/unit/service/test_oneshot.py before tests/unit/api/test_app.py failed). The
root logger's handlers are restored too: the one ``configure`` installs writes to that test's captured stdout.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator

import pytest
import structlog


@pytest.fixture(autouse=True)
def _reset_structlog() -> Iterator[None]:
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    yield
    structlog.reset_defaults()
    root.handlers[:] = handlers
    root.setLevel(level)
