"""service.report: utilisation, imbalance and drain progress from a snapshot."""

from __future__ import annotations

import pytest

from balancerd.model import ClusterSnapshot, Host, Resources, Vm
from balancerd.service import report

CAP = Resources(1000, 1000)


def _snap(*hosts: Host, vms: tuple[Vm, ...] = ()) -> ClusterSnapshot:
    return ClusterSnapshot(1, 0.0, hosts, vms)


def test_utilisation_per_resource_skips_unreachable() -> None:
    snap = _snap(Host("a", CAP, Resources(500, 250)), Host("b", CAP, reachable=False))
    (only,) = report.utilisation(snap)
    assert (only.host, only.cpu, only.memory) == ("a", 0.5, 0.25)


@pytest.mark.parametrize(
    ("usages", "expected"),
    [((500, 500), 0.0), ((200, 800), 0.3), ((1000,), 0.0)],
)
def test_imbalance_is_the_std_deviation(usages: tuple[int, ...], expected: float) -> None:
    hosts = tuple(Host(f"h{i}", CAP, Resources(u, 0)) for i, u in enumerate(usages))
    assert report.imbalance(_snap(*hosts)) == pytest.approx(expected)


def test_imbalance_ignores_maintenance_hosts() -> None:
    snap = _snap(Host("a", CAP, Resources(500, 0)), Host("b", CAP, Resources(500, 0)),
                 Host("c", CAP, Resources(0, 0), maintenance=True))
    assert report.imbalance(snap) == 0.0


def test_drain_remaining() -> None:
    vm = Vm("v", "m", Resources(1000, 100), Resources(10, 10))
    snap = _snap(Host("m", CAP, maintenance=True), Host("a", CAP), vms=(vm,))
    assert report.drain_remaining(snap) == (("m", 1),)
