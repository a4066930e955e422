"""Two balancerd heads on one real etcd and the real libvirt lab (issue 23): exactly one acts, a takeover in the
middle of a drain loses nothing, a paused leader comes back as a follower, etcd down stops every start.

A private 3-host lab with two more guests on host1, an etcd started here (127.0.0.1, free ports, stopped by
pid), and two daemons (`head-a`, `head-b`) on the lab's config, each with its own state directory (journal,
status, socket, maintenance file) and `[ha]` pointing at the etcd. The tests run in file order on one lab:
each leaves every guest running once and the maintenance set empty.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
import urllib.request
from collections import Counter
from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from balancerd import config as config_mod
from balancerd.journal import Journal, JournalEntry
from balancerd.lab import extra, paths
from balancerd.model import Outcome
from tests import etcdserver
from tests.e2e.conftest import private_lab
from tests.e2e.libvirt_lab import BIN, ctl, wait_tick_beyond, wait_until
from tests.e2e.test_daemon_drain import DRAIN_TIMEOUT_S, _placement

pytestmark = pytest.mark.e2e

TTL_S = 6
INTERVAL_S = 5.0
"""The lab config's cycle."""
TAKEOVER_S = TTL_S + 2 * INTERVAL_S + 20.0
"""lease_ttl_s + a cycle to notice, a cycle to act, and the takeover's reconciliation (a migration in flight
is waited for: the lab's guests move in 2-6 s)."""
BOOT_TIMEOUT_S = 180.0
START_S = 60.0


@dataclass
class Head:
    name: str
    config_path: Path
    state: Path
    log_path: Path
    process: subprocess.Popen[bytes] | None = None

    @property
    def status_file(self) -> Path:
        return self.state / "status.json"

    def start(self) -> None:
        log = self.log_path.open("a")
        self.process = subprocess.Popen([str(BIN / "balancerd"), "run", "--config", str(self.config_path)],
                                        stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        log.close()
        wait_until(lambda: self.status().get("ha") is not None or self.process is None
                   or self.process.poll() is not None, START_S, f"{self.name}'s first cycle", 0.5)
        assert self.process.poll() is None, self.log_path.read_text()[-4000:]

    def status(self) -> dict[str, Any]:
        try:
            doc: dict[str, Any] = json.loads(self.status_file.read_text())
        except (OSError, ValueError):
            return {}
        if self.process is not None and doc.get("pid") != self.process.pid:
            return {}  # an earlier run's file
        return doc

    def role(self) -> str:
        return str((self.status().get("ha") or {}).get("role", ""))

    def cycle(self) -> int:
        return int(self.status().get("cycle", 0))

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        os.kill(self.process.pid, signal.SIGCONT)
        self.process.send_signal(signal.SIGTERM)
        code = self.process.wait(timeout=180)
        assert code == 0, self.log_path.read_text()[-4000:]

    def journal(self) -> tuple[JournalEntry, ...]:
        journal = Journal(self.state / "journal.sqlite")
        try:
            return journal.migrations(1000)
        finally:
            journal.close()


def _head_config(lab_config: Path, state_dir: Path, name: str, etcd_url: str, out: Path) -> Path:
    """The lab's config with this head's own state files and an ``[ha]`` table."""
    text = lab_config.read_text().replace(str(paths.LabLayout(lab_config.parent).balancerd_dir), str(out.parent))
    text += f'\n[ha]\netcd_endpoints = ["{etcd_url}"]\nname = "{name}"\nlease_ttl_s = {TTL_S}\n'
    text = text.replace("[metrics]\nenabled = false", "[metrics]\nenabled = true\naddress = \"127.0.0.1\"")
    out.write_text(text)
    config_mod.load(out)  # it must validate
    return out


@pytest.fixture(scope="module")
def ha_lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    if not etcdserver.available():
        pytest.fail("etcd is not installed (scripts/install-ops-deps installs etcd-server)", pytrace=False)
    with ExitStack() as stack:
        status = stack.enter_context(private_lab("lab-ha", hosts=3, vms=3))
        lab_dir = Path(status["dir"])
        for name in ("ha1", "ha2"):
            console = extra.add_guest(paths.LabLayout(lab_dir), 1, name)
            assert wait_tick_beyond(console, 0, BOOT_TIMEOUT_S) > 0, f"{name} did not boot"
        root = tmp_path_factory.mktemp("ha")
        server = etcdserver.start(root / "etcd")
        stack.callback(server.stop)
        heads = {}
        for name in ("head-a", "head-b"):
            state = root / name
            state.mkdir()
            config = _head_config(Path(status["config"]), state, name, server.url, state / "balancerd.toml")
            heads[name] = Head(name, config, state, root / f"{name}.log")
            stack.callback(heads[name].stop)
        yield {"lab": status, "dir": lab_dir, "etcd": server, "heads": heads}


def _leader_and_follower(heads: dict[str, Head]) -> tuple[Head, Head]:
    wait_until(lambda: sorted(h.role() for h in heads.values()) == ["follower", "leader"], TAKEOVER_S,
               "one leader and one follower")
    leader = next(h for h in heads.values() if h.role() == "leader")
    return leader, next(h for h in heads.values() if h is not leader)


def _on(lab_dir: Path, host: str) -> list[str]:
    return sorted(g for g, places in _placement(lab_dir).items() if places[0][0] == host)


def _every_guest_once(lab_dir: Path) -> None:
    for guest, places in _placement(lab_dir).items():
        assert len(places) == 1 and places[0][1] == "running", f"{guest}: {places}"


def _empty_and_settled(lab_dir: Path, host: str, guests: list[str]) -> bool:
    where = _placement(lab_dir)
    return all(len(where.get(g, [])) == 1 and where[g][0][0] != host and where[g][0][1] == "running"
               for g in guests)


def _exit_maintenance(head: Head, host: str) -> None:
    result = ctl(head.config_path, "maintenance", "exit", host)
    assert result.returncode == 0, result.stderr


def _rows(rows: list[JournalEntry]) -> list[tuple[object, ...]]:
    return [(e.head, e.vm, e.source, e.dest, e.outcome, e.detail) for e in rows]


def _metric(head: Head, name: str) -> float:
    port = head.status().get("metrics_port")
    with urllib.request.build_opener(urllib.request.ProxyHandler({})).open(
            f"http://127.0.0.1:{port}/metrics", timeout=5) as answer:
        for line in answer.read().decode().splitlines():
            if line.startswith(name + " "):
                return float(line.split()[1])
    raise AssertionError(f"{name} not exported by {head.name}")


def test_only_the_leader_migrates_and_drains_maintenance_entered_on_the_follower(ha_lab: dict[str, Any]) -> None:
    heads, lab_dir = ha_lab["heads"], ha_lab["dir"]
    heads["head-a"].start()
    heads["head-b"].start()
    leader, follower = _leader_and_follower(heads)
    assert _metric(leader, "balancerd_ha_leader") == 1 and _metric(follower, "balancerd_ha_leader") == 0
    term = int(leader.status()["ha"]["term"])
    assert _metric(follower, "balancerd_ha_term") == term
    show = ctl(follower.config_path, "status", "--json")
    assert show.returncode == 0 and json.loads(show.stdout)["ha"]["role"] == "follower", show.stdout
    on_host1 = _on(lab_dir, "host1")
    assert len(on_host1) >= 3, on_host1
    entered = ctl(follower.config_path, "maintenance", "enter", "host1")
    assert entered.returncode == 0, entered.stderr
    wait_until(lambda: _empty_and_settled(lab_dir, "host1", on_host1), DRAIN_TIMEOUT_S, "host1 drained by the leader")
    wait_until(lambda: {e.vm for e in leader.journal() if e.source == "host1" and e.outcome is Outcome.SUCCEEDED}
               >= set(on_host1), 3 * INTERVAL_S, "the leader's journal to close the drain's moves")
    _every_guest_once(lab_dir)
    started = [e for e in leader.journal() if e.head == leader.name and e.outcome is not Outcome.SKIPPED]
    assert all(e.term == term for e in started), [(e.vm, e.term) for e in started]
    assert not [e for e in follower.journal() if e.head == follower.name and e.outcome is not Outcome.SKIPPED]
    wait_until(lambda: {e.vm for e in follower.journal() if e.head == leader.name
                        and e.outcome is Outcome.SUCCEEDED} >= set(on_host1), 3 * INTERVAL_S,
               "the leader's moves copied into the follower's journal")
    _exit_maintenance(follower, "host1")


def test_kill_9_of_the_leader_during_a_drain_loses_nothing(ha_lab: dict[str, Any]) -> None:
    heads, lab_dir = ha_lab["heads"], ha_lab["dir"]
    leader, follower = _leader_and_follower(heads)
    host = max(("host1", "host2", "host3"), key=lambda h: len(_on(lab_dir, h)))
    guests = _on(lab_dir, host)
    assert len(guests) >= 2, _placement(lab_dir)
    entered_at = time.time()
    entered = ctl(leader.config_path, "maintenance", "enter", host)
    assert entered.returncode == 0, entered.stderr
    wait_until(lambda: any(e.source == host and e.started_at >= entered_at and e.outcome is not Outcome.SKIPPED
                           for e in leader.journal()), DRAIN_TIMEOUT_S, "the leader's first move off the host", 0.1)
    assert leader.process is not None
    killed_at = time.monotonic()
    leader.process.kill()
    leader.process.wait(30)
    wait_until(lambda: follower.role() == "leader", TAKEOVER_S, "the follower to take over")
    takeover_s = time.monotonic() - killed_at
    wait_until(lambda: _empty_and_settled(lab_dir, host, guests), DRAIN_TIMEOUT_S, f"{host} drained after takeover")
    _every_guest_once(lab_dir)
    print(f"takeover after kill -9: {takeover_s:.1f} s (lease_ttl_s {TTL_S}, interval {INTERVAL_S:g} s)")
    leader.start()  # comes back as a follower; its start settles the row the kill left open
    _leader_and_follower(heads)
    assert follower.role() == "leader" and leader.role() == "follower"
    wait_until(lambda: not [e for e in leader.journal() if e.outcome is None], 3 * INTERVAL_S,
               "the restarted head to settle its open rows")
    own = [*(e for e in leader.journal() if e.head == leader.name),
           *(e for e in follower.journal() if e.head == follower.name)]  # each head's rows from its own journal
    rows = [e for e in own if e.vm in guests and e.source == host and e.started_at >= entered_at]
    moved = Counter(e.vm for e in rows if e.outcome is Outcome.SUCCEEDED)
    assert moved == Counter(guests), f"each guest must leave {host} once: {moved}; rows {_rows(rows)}"
    assert not [e for e in rows if e.outcome is Outcome.FAILED], _rows(rows)
    _exit_maintenance(follower, host)


def test_a_leader_stopped_past_its_lease_comes_back_as_a_follower_and_starts_nothing(
        ha_lab: dict[str, Any]) -> None:
    heads, lab_dir = ha_lab["heads"], ha_lab["dir"]
    leader, follower = _leader_and_follower(heads)
    assert leader.process is not None
    os.kill(leader.process.pid, signal.SIGSTOP)
    try:
        wait_until(lambda: follower.role() == "leader", TAKEOVER_S, "the follower to take over the stopped leader")
        frozen_term = int(follower.status()["ha"]["term"])
    finally:
        os.kill(leader.process.pid, signal.SIGCONT)
    thawed = time.time()
    host = max(("host1", "host2", "host3"), key=lambda h: len(_on(lab_dir, h)))
    guests = _on(lab_dir, host)
    entered = ctl(follower.config_path, "maintenance", "enter", host)
    assert entered.returncode == 0, entered.stderr
    wait_until(lambda: leader.role() == "follower" and leader.status()["ha"]["term"] == frozen_term, TAKEOVER_S,
               "the thawed head a follower of the new term")
    wait_until(lambda: _empty_and_settled(lab_dir, host, guests), DRAIN_TIMEOUT_S, f"{host} drained by the new leader")
    late = [e for e in leader.journal() if e.head == leader.name and e.started_at >= thawed
            and e.outcome is not Outcome.SKIPPED]
    assert not late, f"the thawed head started {[(e.vm, e.source, e.dest) for e in late]}"
    _every_guest_once(lab_dir)
    _exit_maintenance(follower, host)


def test_with_etcd_stopped_no_head_starts_a_move_until_it_returns(ha_lab: dict[str, Any]) -> None:
    heads, lab_dir, server = ha_lab["heads"], ha_lab["dir"], ha_lab["etcd"]
    leader, _follower = _leader_and_follower(heads)
    host = max(("host1", "host2", "host3"), key=lambda h: len(_on(lab_dir, h)))
    guests = _on(lab_dir, host)
    server.stop()
    stopped = time.time()
    try:
        edited = ctl(leader.config_path, "maintenance", "enter", host)
        assert edited.returncode != 0 and "etcd" in edited.stderr, (edited.returncode, edited.stderr)
        cycles = {h.name: h.cycle() for h in heads.values()}
        wait_until(lambda: all(h.role() == "follower" for h in heads.values()), TTL_S + 3 * INTERVAL_S,
                   "both heads to step down")
        wait_until(lambda: all(h.cycle() >= cycles[h.name] + 2 for h in heads.values()), 4 * INTERVAL_S + 30,
                   "both heads to keep cycling")
        assert _on(lab_dir, host) == guests, "a guest moved while etcd was down"
        moved = [e for h in heads.values() for e in h.journal() if e.started_at >= stopped
                 and e.outcome is not Outcome.SKIPPED]
        assert not moved, [(e.head, e.vm) for e in moved]
    finally:
        server.launch()
    wait_until(lambda: _empty_and_settled(lab_dir, host, guests), TAKEOVER_S + DRAIN_TIMEOUT_S,
               f"{host} drained once etcd is back")
    _every_guest_once(lab_dir)
    _leader_and_follower(heads)
    _exit_maintenance(leader, host)
