"""Initial placement of a new VM (balancerd.optimize.placement): the best host, and why the others are not."""

from __future__ import annotations

import pytest

from balancerd.model import Forecast
from balancerd.optimize.placement import place
from tests.builders import grid, host, policy, snapshot, vm

EMPTY = Forecast(())


@pytest.mark.parametrize(("loads", "maintenance", "expected"), [
    ([[6000], [2000], [4000]], (), "h1"),            # the least loaded host balances best
    ([[6000], [2000], [4000]], ("h1",), "h2"),       # a host in maintenance takes nothing
    ([[9000], [8500]], (), None),                    # 2,000 m fits nowhere within 10 % headroom
])
def test_place_picks_the_host_that_balances_best(loads: list[list[int]], maintenance: tuple[str, ...],
                                                 expected: str | None) -> None:
    new = vm("import1", "", 2000, 1024)
    found = place(grid(loads, maintenance=maintenance), EMPTY, policy(), new)
    assert found.host == expected
    assert len(found.candidates) == len(loads)


def test_every_refused_host_names_its_reason() -> None:
    snap = grid([[9000], [8500]], maintenance=("h1",))
    found = place(snap, EMPTY, policy(), vm("import1", "", 2000, 1024))
    why = {c.host: c.reasons for c in found.candidates}
    assert any("in maintenance" in r for r in why["h1"])
    assert any("cpu" in r for r in why["h0"])
    assert "no host may take import1" in found.reason


def test_rules_apply_to_the_newcomer_by_name() -> None:
    rules = {"rules": [{"kind": "must_not", "name": "not-h1", "vms": ["web*"], "hosts": ["h1"]}]}
    found = place(grid([[6000], [1000], [4000]]), EMPTY, policy(rules), vm("web7", "", 1000, 1024))
    assert found.host == "h2"


def test_anti_affinity_with_running_vms() -> None:
    snap = snapshot([host("a"), host("b")], [vm("db1", "a", 500, 1024), vm("other", "b", 4000, 1024)])
    rules = {"rules": [{"kind": "anti_affinity", "name": "dbs", "vms": ["db*"]}]}
    found = place(snap, EMPTY, policy(rules), vm("db2", "", 500, 1024))
    assert found.host == "b"


def test_only_the_named_hosts_are_weighed() -> None:
    found = place(grid([[6000], [1000]]), EMPTY, policy(), vm("x", "", 1000, 1024), hosts=("h0",))
    assert found.host == "h0"
    assert [c.host for c in found.candidates] == ["h0"]
