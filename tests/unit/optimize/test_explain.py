"""Unit tests for balancerd.optimize.explain."""

from __future__ import annotations

from balancerd.config import PolicyConfig
from balancerd.model import Forecast
from balancerd.optimize import explain
from tests.builders import host, snapshot, vm

HOSTS = (host("h1", 10000, 16384), host("h2", 10000, 16384), host("h3", 10000, 16384, reachable=False),
         host("m", 10000, 65536, maintenance=True))
VMS = (vm("a", "h1", 4000, 2048), vm("b", "h1", 4000, 2048), vm("c", "h2", 500, 2048), vm("huge", "m", 1000, 32768))
SNAP = snapshot(HOSTS, VMS, seq=3)


def test_moved_vm_gives_its_move() -> None:
    lines = explain(SNAP, Forecast(300), PolicyConfig(), "a")
    assert lines == ("moves h1 -> h2 (live): balance: h1 at 80% cpu -> h2 at 12% mem; imbalance 0.3375 -> 0.0250; "
                     "objective -0.312500",)


def test_skipped_vm_gives_every_reason() -> None:
    lines = explain(SNAP, Forecast(300), PolicyConfig(), "huge")
    assert "skipped: h1 lacks memory: needs 32768 MiB, 10649 MiB free within 90% of capacity" in lines
    assert "skipped: h3 is unreachable" in lines


def test_vm_that_stays_lists_reasons_per_host() -> None:
    lines = explain(SNAP, Forecast(300), PolicyConfig(), "c", cooldown=frozenset({"c"}))
    assert lines[0].startswith("stays on h2: no move of it was chosen")
    assert "h2: already on h2" in lines
    assert "h3: h3 is unreachable" in lines
    assert "m: m is in maintenance" in lines
    assert "h1: in cooldown on h2 after a recent move (1800 s)" in lines


def test_balanced_cluster_says_so_and_unknown_vm() -> None:
    snap = snapshot(HOSTS[:2], (VMS[2], vm("d", "h1", 500, 2048)), seq=3)
    lines = explain(snap, Forecast(300), PolicyConfig(), "d")
    assert lines[0].startswith("stays on h1: balanced: utilisation spread 0.0 points")
    assert lines[-1].startswith("h2: allowed; the score would change by -0.")
    assert explain(snap, Forecast(300), PolicyConfig(), "nope") == ("nope is not in snapshot 3",)
