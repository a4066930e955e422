"""predict.history: one ring buffer for all VMs, bounded, gaps as NaN, growth, migration keeps history."""

from __future__ import annotations

import numpy as np

from balancerd.model import ClusterSnapshot, Resources
from balancerd.predict.history import History
from tests.builders import on_one_host


def _snap(seq: int, usage: dict[str, int], host: str = "h", running: bool = True) -> ClusterSnapshot:
    """Sample ``seq`` of a series a minute apart: each VM (2 cores) uses ``u`` millicores and ``2 u`` MiB."""
    return on_one_host({n: Resources(u, u * 2) for n, u in usage.items()}, seq=seq, at=60.0 * seq, name=host,
                       size=Resources(2000, 1024), running=running)


def test_window_is_chronological_with_gaps_and_padding() -> None:
    history = History(4)
    history.observe(_snap(0, {"a": 1}))
    history.observe(_snap(1, {"a": 2, "b": 7}))
    history.observe(_snap(2, {"b": 8}))
    window = history.window(4)
    assert window.names == ("a", "b")
    a, b = window.cpu
    assert np.isnan(a[0]) and a[1:3].tolist() == [1, 2] and np.isnan(a[3])
    assert np.isnan(b[:2]).all() and b[2:].tolist() == [7, 8]
    assert window.mem[1, -1] == 16
    assert window.times[1:].tolist() == [0.0, 60.0, 120.0]
    assert window.counts().tolist() == [2, 2]
    assert window.size_cpu.tolist() == [2000, 2000]


def test_ring_wraps_and_forgets_vms_without_samples_left() -> None:
    history = History(3)
    for i in range(7):
        history.observe(_snap(i, {"a": i, **({"b": 1} if i == 0 else {})}))
    assert [r.cpu_m for r in history.series("a")] == [4, 5, 6]
    assert "b" not in history.vms()
    assert history.window(10).cpu.shape == (1, 3)


def test_grows_beyond_initial_rows_and_reuses_freed_rows() -> None:
    history = History(2)
    history.observe(_snap(0, {f"v{i}": i for i in range(200)}))
    assert len(history.vms()) == 200
    assert history.series("v150") == (Resources(150, 300),)
    for seq in (1, 2):
        history.observe(_snap(seq, {"new": 5}))
    assert history.vms() == ("new",)


def test_migration_keeps_history_and_stopped_vms_are_not_sampled() -> None:
    history = History(5)
    history.observe(_snap(0, {"a": 10}, host="h1"))
    history.observe(_snap(1, {"a": 20}, host="h2"))
    history.observe(_snap(2, {"a": 99}, running=False))
    assert [r.cpu_m for r in history.series("a")] == [10, 20]
