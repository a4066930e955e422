"""Fixtures of the backend contract suite: the same ``subject`` over the sim backend and the libvirt one.

The libvirt subject runs on a 2-host lab of its own (``$BALANCERD_E2E_LAB_DIR-contract``), separate from
the e2e session lab, because the suite moves guests around; it is marked ``e2e`` and skipped (or failed
when BALANCERD_E2E_REQUIRED is set) where no lab can run.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from balancerd.backends.base import Hypervisor
from balancerd.backends.sim.cluster import SimCluster
from balancerd.backends.sim.specs import SimHost, SimVm
from balancerd.clock import Clock, FakeClock, SystemClock
from tests.e2e.conftest import private_lab
from tests.e2e.libvirt_lab import backend_for


@dataclass
class Subject:
    """A backend under test and what the suite needs to know about it."""

    kind: str
    backend: Hypervisor
    clock: Clock
    hosts: tuple[str, ...]
    vms: tuple[str, ...]
    settle: Callable[[], None] = lambda: None


@pytest.fixture(scope="session")
def contract_lab() -> Iterator[dict[str, Any]]:
    with private_lab("lab-contract", hosts=2, vms=2) as status:
        yield status


def _sim() -> Subject:
    clock = FakeClock()
    hosts = [SimHost("host1", 2, 1024), SimHost("host2", 2, 1024)]
    vms = [SimVm("vm1", "host1", 1, 96, 20.0), SimVm("vm2", "host2", 1, 96, 5.0)]
    return Subject("sim", SimCluster(hosts, vms, clock, link_mib_s=100), clock, ("host1", "host2"),
                   ("vm1", "vm2"))


def _libvirt(status: dict[str, Any]) -> Subject:
    backend = backend_for(status)
    hosts = tuple(h["name"] for h in status["hosts"])
    return Subject("libvirt", backend, SystemClock(), hosts, tuple(status["guests"]))


@pytest.fixture(params=["sim", pytest.param("libvirt", marks=pytest.mark.e2e)])
def subject(request: pytest.FixtureRequest) -> Iterator[Subject]:
    made = _sim() if request.param == "sim" else _libvirt(request.getfixturevalue("contract_lab"))
    yield made
    made.backend.close()
