"""predict.tracking: forecasts scored exactly horizon observations later, against running VMs only."""

from __future__ import annotations

from balancerd.model import ClusterSnapshot, Forecast, Resources, VmForecast
from balancerd.predict.tracking import ErrorTracker, compare
from tests.builders import on_one_host


def _snap(usage: dict[str, int], running: bool = True) -> ClusterSnapshot:
    """VMs that each use ``u`` millicores and ``u`` MiB."""
    return on_one_host({n: Resources(u, u) for n, u in usage.items()}, size=Resources(1000, 1000), running=running)


FORECAST = Forecast(600, (VmForecast("a", Resources(100, 100), Resources(150, 150)),
                          VmForecast("b", Resources(300, 300), Resources(310, 310))))


def test_compare_mae_and_coverage() -> None:
    cpu, mem = compare(FORECAST, _snap({"a": 120, "b": 400, "c": 5}))
    assert (cpu.resource, mem.resource) == ("cpu", "memory")
    assert cpu.mae == 60 and cpu.coverage == 0.5 and cpu.vms == 2 and cpu.horizon_s == 600
    assert compare(FORECAST, _snap({"a": 1}, running=False)) == ()


def test_tracker_scores_at_the_horizon_and_keeps_the_latest() -> None:
    tracker = ErrorTracker()
    tracker.record(1, 2, FORECAST)
    tracker.record(1, 2, Forecast(600))  # a second forecast of the same observation is ignored
    assert tracker.score(2, _snap({"a": 100})) == ()
    scored = tracker.score(3, _snap({"a": 100}))
    assert scored[0].mae == 0 and tracker.latest == scored
    assert tracker.score(4, _snap({"a": 999})) == scored
