"""predict.hosts: a host's forecast is the sum over its running VMs (measured usage when not forecast)."""

from __future__ import annotations

from balancerd.model import ClusterSnapshot, Forecast, Host, Resources, Vm, VmForecast
from balancerd.predict.hosts import HostForecast, per_host


def test_per_host_sums_points_and_uppers() -> None:
    size = Resources(1000, 1000)
    snap = ClusterSnapshot(1, 0.0, (Host("a", size), Host("b", size)), (
        Vm("x", "a", size, Resources(10, 10)), Vm("y", "a", size, Resources(20, 20)),
        Vm("z", "b", size, Resources(5, 5), running=False)))
    forecast = Forecast(600, (VmForecast("x", Resources(100, 1), Resources(150, 2)),))
    assert per_host(snap, forecast) == (HostForecast("a", Resources(120, 21), Resources(170, 22)),
                                        HostForecast("b", Resources(), Resources()))
