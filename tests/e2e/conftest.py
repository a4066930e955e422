"""The shared real-lab fixture for e2e tests.

``lab`` (session scope) runs ``balancerd lab up --hosts 3 --vms 3`` in ``E2E_DIR``, waits until every
guest prints TICK,
yields the parsed ``balancerd lab status --json`` dict and runs ``down`` at the end. When the machine
cannot run a lab (not root, packages or guest kernel missing) the tests are skipped with the reason,
unless ``BALANCERD_E2E_REQUIRED`` is set (CI): then they fail.

Extra key in the yielded dict: ``fixture_timings`` = {"up_s", "first_tick_s"} (seconds).

Every pytest session gets its own root, ``$BALANCERD_E2E_ROOT`` (default /var/lib/balancerd-lab-e2e) /
``s<pid>``, so two sessions on one machine never tear down each other's labs (the network namespaces
get distinct prefixes automatically). Tests that need a lab of their own use a sibling of ``E2E_DIR``
(e.g. ``E2E_DIR.with_name("lab-down")``) and ``start_lab``; the session removes its root at the end.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from balancerd.lab import guests, lifecycle

E2E_ROOT = Path(os.environ.get("BALANCERD_E2E_ROOT", "/var/lib/balancerd-lab-e2e")) / f"s{os.getpid()}"
E2E_DIR = E2E_ROOT / "lab"
TICK_TIMEOUT_S = 180.0


def lab_cli(*args: str, timeout: float = 300.0) -> subprocess.CompletedProcess[str]:
    """Run ``balancerd lab ARGS`` in a child process (the way users and CI run it)."""
    return subprocess.run([sys.executable, "-m", "balancerd.lab.cli", *args], capture_output=True,
                          text=True, timeout=timeout, stdin=subprocess.DEVNULL, check=False)


def require_lab() -> None:
    """Skip (or fail, when BALANCERD_E2E_REQUIRED is set) unless this machine can run a lab."""
    missing = lifecycle.missing_requirements()
    if not missing:
        return
    reason = f"lab cannot run here: {'; '.join(missing)} (run scripts/install-lab-deps as root)"
    if os.environ.get("BALANCERD_E2E_REQUIRED"):
        pytest.fail(reason, pytrace=False)
    pytest.skip(reason)


def lab_status(lab_dir: Path) -> dict[str, Any]:
    result = lab_cli("status", "--json", "--dir", str(lab_dir))
    assert result.returncode == 0, result.stderr
    status: dict[str, Any] = json.loads(result.stdout)
    return status


def start_lab(lab_dir: Path, hosts: int, vms: int) -> dict[str, Any]:
    """Bring up a lab (downing a stale one recorded there first), wait for TICKs, return its status."""
    lab_cli("down", "--dir", str(lab_dir))
    t0 = time.monotonic()
    result = lab_cli("up", "--hosts", str(hosts), "--vms", str(vms), "--dir", str(lab_dir))
    up_s = time.monotonic() - t0
    if result.returncode != 0:
        pytest.fail(f"lab up failed ({result.returncode}):\n{result.stderr}", pytrace=False)
    status = lab_status(lab_dir)
    consoles = [Path(status["consoles"]) / f"{name}.log" for name in status["guests"]]
    try:
        guests.wait_ticking(consoles, TICK_TIMEOUT_S)
    except Exception:
        lab_cli("down", "--dir", str(lab_dir))
        raise
    status["fixture_timings"] = {"up_s": round(up_s, 2), "first_tick_s": round(time.monotonic() - t0, 2)}
    return status


@pytest.fixture(scope="session", autouse=True)
def _e2e_root() -> Iterator[None]:
    """Remove this session's lab root at the end, once every lab in it is down."""
    yield
    if E2E_ROOT.is_dir() and not list(E2E_ROOT.glob("*/state.json")):
        shutil.rmtree(E2E_ROOT, ignore_errors=True)


@pytest.fixture(scope="session")
def lab() -> Iterator[dict[str, Any]]:
    """A running 3-host lab with 3 ticking guests (vm1..vm3 on host1..host3); downed at session end."""
    require_lab()
    status = start_lab(E2E_DIR, hosts=3, vms=3)
    try:
        yield status
    finally:
        result = lab_cli("down", "--dir", str(E2E_DIR))
        assert result.returncode == 0, result.stderr


@contextlib.contextmanager
def private_lab(name: str, hosts: int, vms: int) -> Iterator[dict[str, Any]]:
    """A lab of its own beside the session lab (``E2E_DIR.with_name(name)``), brought down afterwards."""
    require_lab()
    lab_dir = E2E_DIR.with_name(name)
    status = start_lab(lab_dir, hosts=hosts, vms=vms)
    try:
        yield status
    finally:
        result = lab_cli("down", "--dir", str(lab_dir))
        assert result.returncode == 0, result.stderr
