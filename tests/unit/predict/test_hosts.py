"""predict.hosts: a host's forecast is the sum over its running VMs (measured usage when not forecast)."""

from __future__ import annotations

from balancerd.model import Forecast, Resources, VmForecast
from balancerd.predict.hosts import HostForecast, per_host
from tests.builders import host, snapshot, vm


def test_per_host_sums_points_and_uppers() -> None:
    snap = snapshot([host("a", 1000, 1000), host("b", 1000, 1000)], [
        vm("x", "a", usage=Resources(10, 10)), vm("y", "a", usage=Resources(20, 20)),
        vm("z", "b", usage=Resources(5, 5), running=False)])
    forecast = Forecast(600, (VmForecast("x", Resources(100, 1), Resources(150, 2)),))
    assert per_host(snap, forecast) == (HostForecast("a", Resources(120, 21), Resources(170, 22)),
                                        HostForecast("b", Resources(), Resources()))
