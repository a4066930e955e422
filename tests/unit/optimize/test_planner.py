"""Unit tests for balancerd.optimize.planner (safe ordering, parking, dropping)."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from balancerd.config import PolicyConfig
from balancerd.model import Forecast, Move, MoveKind
from balancerd.optimize.planner import order
from balancerd.optimize.state import ClusterState
from tests.builders import host, snapshot, vm


def _state(hosts: list[tuple[str, int]], vms: list[tuple[str, str, int]]) -> ClusterState:
    """Hosts (name, memory MiB) with plenty of CPU; VMs (name, host, memory MiB)."""
    snap = snapshot([host(n, 100_000, m) for n, m in hosts], [vm(n, h, 100, m) for n, h, m in vms])
    return ClusterState(snap, Forecast(300), PolicyConfig(headroom_pct=0), frozenset())


def _move(vm: str, source: str, dest: str, mem: int = 0) -> Move:
    return Move(vm, source, dest, MoveKind.LIVE, f"balance: {vm}", 0.1, mem)


def test_safe_order_is_kept() -> None:
    state = _state([("a", 8192), ("b", 8192)], [("x", "a", 1024), ("y", "a", 1024)])
    moves = [_move("x", "a", "b"), _move("y", "a", "b")]
    assert order(moves, state, 10) == (tuple(moves), ())


def test_blocked_move_waits_for_the_move_that_frees_room() -> None:
    state = _state([("a", 4096), ("b", 4096), ("c", 8192)], [("x", "a", 3072), ("y", "b", 3072)])
    moves = [_move("x", "a", "b"), _move("y", "b", "c")]
    ordered, skipped = order(moves, state, 10)
    assert [m.vm for m in ordered] == ["y", "x"]
    assert skipped == ()


def test_swap_is_broken_by_parking_on_a_third_host() -> None:
    state = _state([("a", 4096), ("b", 4096), ("c", 4096)], [("x", "a", 3072), ("y", "b", 3072)])
    ordered, skipped = order([_move("x", "a", "b"), _move("y", "b", "a")], state, 10)
    assert [(m.vm, m.source, m.dest) for m in ordered] == [("x", "a", "c"), ("y", "b", "a"), ("x", "c", "b")]
    assert ordered[0].reason.startswith("park: x waits on c until b has room")
    assert ordered[0].gain == 0.0
    assert ordered[2].reason == "balance: x (via c)"
    assert skipped == ()


def test_swap_without_parking_room_is_dropped_with_reasons() -> None:
    state = _state([("a", 4096), ("b", 4096), ("c", 2048)], [("x", "a", 3072), ("y", "b", 3072)])
    ordered, skipped = order([_move("x", "a", "b"), _move("y", "b", "a")], state, 10)
    assert ordered == ()
    assert [s.vm for s in skipped] == ["x", "y"]
    assert skipped[0].reasons[0].startswith("could not be ordered safely: b has no room")
    assert skipped[0].reasons[1] == "was planned as: balance: x"


def test_parking_respects_the_move_budget() -> None:
    state = _state([("a", 4096), ("b", 4096), ("c", 4096)], [("x", "a", 3072), ("y", "b", 3072)])
    ordered, skipped = order([_move("x", "a", "b"), _move("y", "b", "a")], state, 2)
    assert ordered == () and len(skipped) == 2


@settings(max_examples=200, deadline=None)
@given(st.data())
def test_any_target_assignment_is_ordered_safely(data: st.DataObject) -> None:
    n_hosts = data.draw(st.integers(2, 6))
    hosts = [(f"h{i}", data.draw(st.integers(2048, 16384))) for i in range(n_hosts)]
    room = dict(hosts)
    vms: list[tuple[str, str, int]] = []
    for j in range(data.draw(st.integers(0, 15))):
        host, mem = data.draw(st.sampled_from(hosts))[0], data.draw(st.integers(256, 4096))
        if room[host] >= mem:
            room[host] -= mem
            vms.append((f"v{j}", host, mem))
    moves = [_move(n, h, data.draw(st.sampled_from([x for x, _ in hosts if x != h]))) for n, h, _ in vms
             if data.draw(st.booleans())]
    state = _state(hosts, vms)
    ordered, skipped = order(moves, state, 100)
    load = {h: 0 for h, _ in hosts}
    where = {n: h for n, h, _ in vms}
    size = {n: m for n, _, m in vms}
    for _, h, m in vms:
        load[h] += m
    for move in ordered:
        assert where[move.vm] == move.source
        assert load[move.dest] + size[move.vm] <= dict(hosts)[move.dest], move
        load[move.dest] += size[move.vm]
        load[move.source] -= size[move.vm]
        where[move.vm] = move.dest
    wanted = {m.vm: m.dest for m in moves}
    done = {vm for vm in wanted if where[vm] == wanted[vm]}
    assert done | {s.vm for s in skipped} == set(wanted)
