"""Heads on a real etcd: the maintenance file synced with the shared set, hold() and the takeover, the pause."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from balancerd import maintenance
from balancerd.config import Config
from balancerd.config.loading import from_table
from balancerd.errors import CoordinationError
from balancerd.journal import Journal
from balancerd.service.heads import MIRROR_HEADER, Heads
from balancerd.service.pausing import KillSwitch, Pause
from tests import etcdserver
from tests.etcdserver import key_prefix

NOW = 1_000_000.0


def head_config(url: str, name: str, prefix: str, directory: Path) -> Config:
    return from_table({
        "ha": {"etcd_endpoints": [url], "name": name, "prefix": prefix, "lease_ttl_s": 10, "request_timeout_s": 1.0},
        "paths": {"maintenance_file": str(directory / f"{name}.maintenance"),
                  "journal": str(directory / f"{name}.sqlite")},
        "control": {"pause_file": str(directory / f"{name}.pause"),
                    "pause_state": str(directory / f"{name}.paused.json")},
    }, Path("."))


class Head:
    """One daemon's Heads with its journal, maintenance file and takeovers."""

    def __init__(self, url: str, name: str, prefix: str, directory: Path) -> None:
        self.config = head_config(url, name, prefix, directory)
        self.journal = Journal(self.config.paths.journal)
        self.heads = Heads(self.config, self.journal)
        self.file = self.config.paths.maintenance_file
        self.takeovers: list[int] = []

    def take_over(self) -> None:
        self.takeovers.append(self.heads.role().term)

    def cycle(self) -> None:
        self.heads.before_cycle(NOW, self.file, self.take_over)

    def sync(self) -> tuple[tuple[str, bool], ...]:
        return self.heads.sync_maintenance(self.file)

    def listed(self) -> tuple[tuple[str, bool], ...]:
        return maintenance.read_entries(self.file)


MakeHead = Callable[[str], Head]


@pytest.fixture
def make_head(etcd_server: etcdserver.EtcdServer, request: pytest.FixtureRequest,
              tmp_path: Path) -> Iterator[MakeHead]:
    """Heads of this test (its own key prefix on the module's etcd), their journals closed afterwards."""
    made: list[Head] = []
    prefix = key_prefix(request.node.name)

    def make(name: str) -> Head:
        made.append(Head(etcd_server.url, name, prefix, tmp_path))
        return made[-1]

    yield make
    for head in made:
        head.journal.close()


def test_first_heads_file_seeds_the_set_and_the_others_mirror_it(make_head: MakeHead) -> None:
    a = make_head("a")
    a.file.write_text("# ours\nh1\nh2 force\n")
    assert a.heads.shared.maintenance() is None
    assert a.sync() == (("h1", False), ("h2", True))
    assert a.heads.shared.maintenance() == (("h1", False), ("h2", True))
    b = make_head("b")
    assert not b.file.exists()
    assert b.sync() == (("h1", False), ("h2", True))
    assert b.listed() == (("h1", False), ("h2", True))
    assert b.file.read_text().splitlines()[0] == MIRROR_HEADER


def test_a_later_heads_own_lines_give_way_to_the_set(make_head: MakeHead) -> None:
    a = make_head("a")
    a.file.write_text("h1\n")
    a.sync()
    b = make_head("b")
    b.file.write_text("h7\n")
    assert b.sync() == (("h1", False),)
    assert b.listed() == (("h1", False),)


def test_an_empty_first_file_writes_no_set_and_the_next_file_seeds_it(make_head: MakeHead) -> None:
    a = make_head("a")
    assert a.sync() == ()
    assert a.heads.shared.maintenance() is None
    b = make_head("b")
    b.file.write_text("h3\n")
    assert b.sync() == (("h3", False),)
    assert a.sync() == (("h3", False),)
    assert a.listed() == (("h3", False),)


def test_lines_added_and_removed_in_any_heads_file_reach_every_head(make_head: MakeHead) -> None:
    a, b = make_head("a"), make_head("b")
    a.file.write_text("h1\nh2\n")
    a.sync()
    b.sync()
    b.file.write_text(b.file.read_text() + "h3\n")
    assert b.sync() == (("h1", False), ("h2", False), ("h3", False))
    assert a.sync() == (("h1", False), ("h2", False), ("h3", False))
    assert a.listed() == (("h1", False), ("h2", False), ("h3", False))
    a.file.write_text("h2\nh3\n")
    assert a.sync() == (("h2", False), ("h3", False))
    assert b.sync() == (("h2", False), ("h3", False))
    assert b.listed() == (("h2", False), ("h3", False))
    b.file.write_text(b.file.read_text().replace("h3", "h3 force"))
    assert a.sync() == (("h2", False), ("h3", False))  # b has not synced its edit yet
    b.sync()
    assert a.sync() == (("h2", False), ("h3", True))
    assert a.listed() == (("h2", False), ("h3", True))


def test_edits_made_on_both_heads_between_syncs_both_land(make_head: MakeHead) -> None:
    a, b = make_head("a"), make_head("b")
    a.file.write_text("h1\nh2\n")
    a.sync()
    b.sync()
    a.file.write_text("h2\nha\n")
    b.file.write_text(b.file.read_text() + "hb\n")
    a.sync()
    assert b.sync() == (("h2", False), ("ha", False), ("hb", False))
    assert a.sync() == (("h2", False), ("ha", False), ("hb", False))


def test_while_etcd_is_down_the_file_is_kept_and_its_edit_applied_after(private_etcd: etcdserver.EtcdServer,
                                                                        tmp_path: Path) -> None:
    a = Head(private_etcd.url, "a", "/c/", tmp_path)
    try:
        a.file.write_text("h1\n")
        a.sync()
        private_etcd.stop()
        a.file.write_text("h1\nh2 force\n")
        before = a.file.read_text()
        with pytest.raises(CoordinationError, match="etcd unreachable"):
            a.sync()
        assert a.file.read_text() == before
        a.cycle()  # the cycle does not fail: it says why in the status
        assert "etcd unreachable" in a.heads.status()["error"]
        assert a.file.read_text() == before
        private_etcd.restart()
        assert a.sync() == (("h1", False), ("h2", True))
        assert a.heads.shared.maintenance() == (("h1", False), ("h2", True))
        a.cycle()
        assert a.heads.error == ""
    finally:
        a.journal.close()


def test_hold_follower_then_takeover_once_per_term(make_head: MakeHead) -> None:
    a, b = make_head("a"), make_head("b")
    assert a.heads.hold() == "not the leader: this head (a) is follower (no leader known): not campaigned yet"
    a.heads.leadership.step()
    b.heads.leadership.step()
    first = a.heads.role().term
    assert b.heads.hold() == f"not the leader: this head (b) is follower of a (term {first})"
    assert a.heads.hold() == f"taking over term {first}: reconciling with the hosts first"
    a.cycle()
    b.cycle()
    assert a.heads.hold() is None
    assert (a.takeovers, b.takeovers) == ([first], [])
    a.cycle()
    assert a.takeovers == [first]
    a.heads.leadership.stop()  # a steps down: b takes the next term
    b.heads.leadership.step()
    second = b.heads.role().term
    assert second > first
    assert b.heads.hold() == f"taking over term {second}: reconciling with the hosts first"
    b.cycle()
    b.cycle()
    assert b.takeovers == [second] and b.heads.hold() is None
    assert a.heads.hold() == "not the leader: this head (a) is follower (no leader known): stopped"


def test_a_takeover_that_fails_is_tried_again_next_cycle(make_head: MakeHead) -> None:
    a = make_head("a")
    a.heads.leadership.step()
    calls: list[int] = []

    def failing() -> None:
        calls.append(1)
        if len(calls) == 1:
            raise RuntimeError("libvirt did not answer")

    with pytest.raises(RuntimeError):
        a.heads.before_cycle(NOW, a.file, failing)
    assert a.heads.hold() is not None
    a.heads.before_cycle(NOW, a.file, failing)
    assert len(calls) == 2 and a.heads.hold() is None


def test_planned_plans_carry_the_current_term(make_head: MakeHead) -> None:
    a = make_head("a")
    a.heads.leadership.step()
    a.heads.planned(7)
    assert a.heads.recorder.term_of(7) == a.heads.role().term > 0


def test_status_keys(make_head: MakeHead, etcd_server: etcdserver.EtcdServer) -> None:
    a, b = make_head("a"), make_head("b")
    a.heads.leadership.step()
    b.heads.leadership.step()
    a.cycle()
    term = a.heads.role().term
    assert a.heads.status() == {"name": "a", "role": "leader", "term": term, "leader": "a", "error": None,
                                "etcd_endpoints": [etcd_server.url], "ready_term": term}
    assert b.heads.status() == {"name": "b", "role": "follower", "term": term, "leader": "a", "error": None,
                                "etcd_endpoints": [etcd_server.url], "ready_term": 0}


def test_restore_and_release_asked_on_one_head_reach_the_other(make_head: MakeHead) -> None:
    a, b = make_head("a"), make_head("b")
    b.journal.record_failure("web1", "h2", NOW, "failed")
    a.heads.released("web1", NOW)
    a.heads.restore_requested("h1", NOW)
    b.cycle()
    assert b.journal.failures() == ()
    assert len(b.journal.copied()) == 2


def test_a_pause_on_one_head_pauses_the_other_after_its_cycle(make_head: MakeHead) -> None:
    a, b = make_head("a"), make_head("b")
    kill_a, kill_b = KillSwitch(a.config.control, a.heads), KillSwitch(b.config.control, b.heads)
    assert kill_a.set(Pause("ops on a", 5.0)) == ""
    assert kill_a.reason() == "paused by ops on a"
    assert not a.config.control.pause_state.exists()  # cluster-wide: not kept on the head's file
    assert kill_b.reason() is None
    b.cycle()
    assert kill_b.reason() == "paused by ops on a"
    assert kill_b.fields()["paused_by"] == "ops on a"
    assert kill_b.set(None) == ""
    a.cycle()
    assert kill_a.reason() is None and kill_b.reason() is None


def test_a_pause_etcd_does_not_take_holds_on_this_head_only(private_etcd: etcdserver.EtcdServer,
                                                            tmp_path: Path) -> None:
    a = Head(private_etcd.url, "a", "/c/", tmp_path)
    try:
        kill = KillSwitch(a.config.control, a.heads)
        private_etcd.stop()
        warning = kill.set(Pause("ops", 5.0))
        assert warning.startswith("etcd did not take it (etcd unreachable")
        assert warning.endswith("the pause holds on this head only")
        assert kill.reason() == "paused by ops"
        assert a.config.control.pause_state.exists()
        again = KillSwitch(a.config.control, a.heads)
        assert again.load() == ""
        assert again.reason() == "paused by ops"  # kept across a restart of the daemon
        warning = kill.set(None)
        assert warning.endswith("a cluster-wide pause stays until etcd answers")
        assert kill.reason() is None and not a.config.control.pause_state.exists()
    finally:
        a.journal.close()


def test_a_damaged_maintenance_key_neither_hides_the_pause_nor_lets_the_leader_start(make_head: MakeHead) -> None:
    a, b = make_head("a"), make_head("b")
    a.heads.leadership.step()
    a.cycle()
    assert a.heads.hold() is None
    client = a.heads.shared._etcd
    client.write(a.heads.shared.maintenance_key, b"garbage")
    KillSwitch(b.config.control, b.heads).set(Pause("ops on b", 1.0))
    a.cycle()
    assert KillSwitch(a.config.control, a.heads).reason() == "paused by ops on b"
    held = a.heads.hold()
    assert held is not None and "etcd not usable" in held and "etcdctl del" in held


def test_a_deleted_maintenance_key_is_seeded_again_from_the_file_not_emptied(make_head: MakeHead) -> None:
    a = make_head("a")
    maintenance.enter(a.file, "h1")
    maintenance.enter(a.file, "h2")
    assert a.sync() == (("h1", False), ("h2", False))
    a.heads.shared._etcd.remove(a.heads.shared.maintenance_key)
    assert a.sync() == (("h1", False), ("h2", False))
    assert a.listed() == (("h1", False), ("h2", False))
    assert a.heads.shared.maintenance() == (("h1", False), ("h2", False))
