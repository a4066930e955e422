"""What every test shares: structlog back at its defaults after each test.

``balancerd`` entry points called in-process (``cli.main``) configure structlog for the process, with a level
filter; without a reset, a later test's ``capture_logs`` would miss events below that level, so results
depended on test order (tests/unit/service/test_oneshot.py before tests/unit/api/test_app.py failed).
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import structlog


@pytest.fixture(autouse=True)
def _reset_structlog() -> Iterator[None]:
    yield
    structlog.reset_defaults()
