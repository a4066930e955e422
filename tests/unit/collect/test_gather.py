"""collect.gather and the collector over it: every host at once, a deadline each, a hung host given up.

Hosts hang on a real Event (``SimCluster.hang``), so the threads and deadlines are real; timeouts are short
(0.2 s) and each case bounds its own wait with a thread join, so a regression that waits for a hung host fails
instead of hanging the run.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import TypeVar

from balancerd import optimize
from balancerd.backends.sim.cluster import SimCluster
from balancerd.backends.sim.specs import SimHost, SimVm
from balancerd.clock import FakeClock
from balancerd.collect import Collector
from balancerd.collect.gather import Gatherer, Missed
from balancerd.config import PolicyConfig
from balancerd.errors import TransientBackendError
from balancerd.model import Forecast

T = TypeVar("T")
TIMEOUT_S = 0.2
BOUND_S = 20.0  # far beyond any deadline here: only a collector that waits for a hung host reaches it


def bounded(fn: Callable[[], T]) -> T:
    """Run ``fn`` in a thread and fail (instead of hanging) if it does not return within BOUND_S."""
    out: list[T] = []
    worker = threading.Thread(target=lambda: out.append(fn()), daemon=True)
    worker.start()
    worker.join(BOUND_S)
    assert out, "collection waited for a hung host"
    return out[0]


def cluster() -> SimCluster:
    hosts = [SimHost(f"h{i}", 8, 32768) for i in (1, 2, 3)]
    vms = [SimVm("a", "h1", 2, 4096, 90.0), SimVm("b", "h1", 2, 4096, 90.0), SimVm("c", "h1", 2, 4096, 90.0),
           SimVm("d", "h2", 2, 4096, 10.0)]
    return SimCluster(hosts, vms, FakeClock(1_000.0))


def test_a_hung_host_is_given_up_and_not_asked_again_while_stuck() -> None:
    gate = threading.Event()
    calls: list[str] = []
    abandoned: list[tuple[str, str]] = []

    def fetch(host: str) -> str:
        calls.append(host)
        if host == "h2":
            gate.wait()
        return f"{host} ok"

    gatherer = Gatherer(fetch, 4, TIMEOUT_S, lambda h, r: abandoned.append((h, r)))
    first = bounded(lambda: gatherer.gather(("h1", "h2", "h3")))
    assert first["h1"] == "h1 ok" and first["h3"] == "h3 ok"
    assert first["h2"] == Missed(f"did not answer within {TIMEOUT_S:g} s")
    assert abandoned == [("h2", f"did not answer within {TIMEOUT_S:g} s")]
    second = bounded(lambda: gatherer.gather(("h1", "h2", "h3")))
    assert isinstance(second["h2"], Missed) and second["h2"].reason.startswith("still stuck")
    assert calls.count("h2") == 1  # not asked again while the first call hangs
    gate.set()
    third = second
    for _ in range(100_000):  # until the stuck call has returned: then h2 is asked again
        third = bounded(lambda: gatherer.gather(("h2",)))
        if not isinstance(third["h2"], Missed):
            break
    assert third["h2"] == "h2 ok" and calls.count("h2") == 2


def test_never_more_workers_than_configured_and_errors_are_results() -> None:
    lock = threading.Lock()
    running, peak = [0], [0]

    def fetch(host: str) -> str:
        with lock:
            running[0] += 1
            peak[0] = max(peak[0], running[0])
        try:
            if host == "bad":
                raise TransientBackendError("connection reset")
            if host == "bug":
                raise ValueError("oops")
            return host
        finally:
            with lock:
                running[0] -= 1

    hosts = ("bad", "bug", *(f"h{i}" for i in range(20)))
    result = bounded(lambda: Gatherer(fetch, 3, 5.0, lambda h, r: None).gather(hosts))
    assert peak[0] <= 3 and result["h7"] == "h7"
    assert str(result["bad"]) == "connection reset"
    assert "collection crashed: ValueError: oops" in str(result["bug"])


def test_the_collector_reports_a_hung_host_unreachable_and_plans_around_it() -> None:
    sim = cluster()
    collector = Collector(sim, workers=2, host_timeout_s=TIMEOUT_S)
    collector.collect(1_000.0)
    sim.hang("h2")
    try:
        result = bounded(lambda: collector.collect(1_060.0))
    finally:
        sim.unhang("h2")
    snap = result.snapshot
    assert [(h.name, h.reachable) for h in snap.hosts] == [("h1", True), ("h2", False), ("h3", True)]
    assert snap.find_host("h2") is not None and snap.find_host("h2").capacity.cpu_m == 8000  # type: ignore[union-attr]
    assert {vm.name for vm in snap.vms} == {"a", "b", "c"}
    assert result.errors == (f"host h2 did not answer within {TIMEOUT_S:g} s",)
    assert sim.resets == [("h2", f"did not answer within {TIMEOUT_S:g} s")]
    plan = optimize.plan(snap, Forecast(60), PolicyConfig(min_gain=0.0, headroom_pct=0))
    assert plan.moves and all("h2" not in (m.source, m.dest) for m in plan.moves)
    for _ in range(100_000):  # the stuck call ends with unhang; then h2 is asked again
        back = bounded(lambda: collector.collect(1_120.0))
        if back.snapshot.hosts[1].reachable:
            break
    assert {vm.name for vm in back.snapshot.vms} == {"a", "b", "c", "d"}
