"""service.maintwatch: fixed hosts (a described cluster's maintenance = true) are in maintenance whatever the
maintenance file says, also while the file is broken."""

from __future__ import annotations

from pathlib import Path

from balancerd.service.maintwatch import MaintenanceWatch


def _known() -> tuple[str, ...]:
    return ("h1", "h2", "h3")


def test_fixed_hosts_join_the_file_s(tmp_path: Path) -> None:
    path = tmp_path / "maintenance"
    watch = MaintenanceWatch(path, _known, frozenset({"h1"}))
    assert watch.read() == frozenset({"h1"})  # no file yet
    path.write_text("h2\n")
    assert watch.read() == frozenset({"h1", "h2"})
    path.write_bytes(b"\x00\xff")
    assert watch.read() == frozenset({"h1", "h2"}) and watch.problem


def test_without_fixed_hosts_only_the_file_counts(tmp_path: Path) -> None:
    path = tmp_path / "maintenance"
    path.write_text("h3\n")
    assert MaintenanceWatch(path, _known).read() == frozenset({"h3"})


def test_order_and_forced_follow_the_last_good_file(tmp_path: Path) -> None:
    path = tmp_path / "maintenance"
    watch = MaintenanceWatch(path, _known, frozenset({"h1"}))
    path.write_text("h3 force\nh2\nnosuch force\n")
    assert watch.read() == frozenset({"h1", "h2", "h3"})
    assert (watch.order, watch.forced) == (("h3", "h2", "h1"), frozenset({"h3"}))
    path.write_bytes(b"\x00\xff")
    watch.read()
    assert (watch.order, watch.forced) == (("h3", "h2", "h1"), frozenset({"h3"}))
