"""service.external: which VMs changed host without a balancerd move, and when the back-off after too many
of them ends."""

from __future__ import annotations

import pytest

from balancerd.model import ClusterSnapshot, ExternalMove
from balancerd.service import external
from tests import builders

HOSTS = [builders.host(name, 8000, 16384) for name in ("h1", "h2", "h3")]


def _snap(where: dict[str, str], at: float = 100.0) -> ClusterSnapshot:
    return builders.snapshot(HOSTS, [builders.vm(vm, host, 1000, 1024) for vm, host in where.items()], at=at)


def test_a_vm_on_another_host_is_an_external_move_unless_balancerd_moved_it() -> None:
    before = {"a": "h1", "b": "h1", "c": "h2", "gone": "h3"}
    now = _snap({"a": "h2", "b": "h3", "c": "h2", "new": "h1"})
    assert external.detect(before, now, ours={"b"}) == (ExternalMove("a", "h1", "h2", 100.0),)
    assert external.placement(now) == {"a": "h2", "b": "h3", "c": "h2", "new": "h1"}


@pytest.mark.parametrize(("seen", "limit", "until"), [
    ([], 2, None),
    ([0.0, 10.0], 2, None),                    # two in an hour: not more than the limit
    ([0.0, 10.0, 20.0], 2, 20.0 + 600),        # the third within the hour starts the back-off
    ([0.0, 3600.0, 7200.0], 2, None),          # spread over three hours: never more than one an hour
    ([0.0, 10.0, 20.0, 30.0], 2, 30.0 + 600),  # each further one extends it
    ([30.0, 0.0, 20.0], 2, 30.0 + 600),        # in any order
    ([0.0, 10.0, 20.0], 0, None),              # 0 = never back off
])
def test_the_back_off_follows_more_than_the_limit_within_an_hour(seen: list[float], limit: int,
                                                                 until: float | None) -> None:
    assert external.backoff_until(seen, limit, 600.0) == until
