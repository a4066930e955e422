"""service.report: utilisation, imbalance and drain progress from a snapshot."""

from __future__ import annotations

import pytest

from balancerd.model import Resources
from balancerd.service import report
from tests.builders import host, snapshot, vm

CAP = (1000, 1000)
"""Every host's capacity: CPU millicores, memory MiB."""


def test_utilisation_per_resource_skips_unreachable() -> None:
    snap = snapshot([host("a", *CAP, usage=Resources(500, 250)), host("b", *CAP, reachable=False)])
    (only,) = report.utilisation(snap)
    assert (only.host, only.cpu, only.memory) == ("a", 0.5, 0.25)


@pytest.mark.parametrize(
    ("usages", "expected"),
    [((500, 500), 0.0), ((200, 800), 0.3), ((1000,), 0.0)],
)
def test_imbalance_is_the_std_deviation(usages: tuple[int, ...], expected: float) -> None:
    hosts = [host(f"h{i}", *CAP, usage=Resources(u, 0)) for i, u in enumerate(usages)]
    assert report.imbalance(snapshot(hosts)) == pytest.approx(expected)


def test_imbalance_ignores_maintenance_hosts() -> None:
    snap = snapshot([host("a", *CAP, usage=Resources(500, 0)), host("b", *CAP, usage=Resources(500, 0)),
                     host("c", *CAP, maintenance=True)])
    assert report.imbalance(snap) == 0.0


def test_drain_remaining() -> None:
    snap = snapshot([host("m", *CAP, maintenance=True), host("a", *CAP)],
                    [vm("v", "m", 1000, 100, usage=Resources(10, 10))])
    assert report.drain_remaining(snap) == (("m", 1),)
