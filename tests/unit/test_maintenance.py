"""maintenance: parse, enter and leave keep comments and other hosts."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from balancerd import maintenance
from balancerd.errors import StateError


def test_parse_ignores_comments_and_blanks() -> None:
    text = "# header\nhost1\n\n  host2   # until friday\n#host3\n"
    assert maintenance.parse(text) == frozenset({"host1", "host2"})


def test_missing_file_means_none(tmp_path: Path) -> None:
    assert maintenance.read(tmp_path / "absent") == frozenset()


def test_enter_and_leave(tmp_path: Path) -> None:
    path = tmp_path / "sub" / "maintenance"
    assert maintenance.enter(path, "h1")
    assert not maintenance.enter(path, "h1")
    assert maintenance.enter(path, "h2")
    assert maintenance.read(path) == frozenset({"h1", "h2"})
    assert maintenance.leave(path, "h1")
    assert not maintenance.leave(path, "h1")
    assert maintenance.read(path) == frozenset({"h2"})
    assert path.read_text().startswith("# hosts in maintenance")


def test_leave_keeps_comment_lines(tmp_path: Path) -> None:
    path = tmp_path / "m"
    path.write_text("# keep me\nh1 # reason\nh2\n")
    maintenance.leave(path, "h1")
    assert path.read_text() == "# keep me\nh2\n"


def test_unreadable_file_is_a_state_error(tmp_path: Path) -> None:
    (tmp_path / "dir").mkdir()
    with pytest.raises(StateError, match="is not a regular file"):
        maintenance.read(tmp_path / "dir")


def test_binary_content_is_refused_naming_the_byte(tmp_path: Path) -> None:
    path = tmp_path / "maintenance"
    path.write_bytes(b"host1\n\x00\x01\x02garbage")
    with pytest.raises(StateError, match="binary content"):
        maintenance.read(path)
    path.write_bytes(b"\xff\xfe host1")
    with pytest.raises(StateError, match="not UTF-8"):
        maintenance.read(path)


def test_a_symlink_is_refused_and_its_target_never_copied(tmp_path: Path) -> None:
    secret = tmp_path / "secret"
    secret.write_text("root:x:0:0\n")
    link = tmp_path / "maintenance"
    link.symlink_to(secret)
    with pytest.raises(StateError, match="symbolic link"):
        maintenance.read(link)
    with pytest.raises(StateError, match="symbolic link"):
        maintenance.enter(link, "host1")
    assert link.is_symlink() and secret.read_text() == "root:x:0:0\n"


def test_a_fifo_is_refused_without_blocking(tmp_path: Path) -> None:
    fifo = tmp_path / "maintenance"
    os.mkfifo(fifo)
    with pytest.raises(StateError, match="not a regular file"):
        maintenance.read(fifo)  # nobody writes: a blocking open would hang here


def test_entries_keep_file_order_and_the_force_word() -> None:
    text = "# header\nh3\nh1 force   # drain --force\nh2 # not forced\nh3 force\n"
    assert maintenance.entries(text) == (("h3", True), ("h1", True), ("h2", False))


def test_enter_with_force_marks_a_listed_host_in_place(tmp_path: Path) -> None:
    path = tmp_path / "m"
    path.write_text("# keep me\nh1\nh2 # reason\n")
    assert maintenance.enter(path, "h1", force=True)
    assert maintenance.enter(path, "h2", force=True)
    assert path.read_text() == "# keep me\nh1 force\nh2 force # reason\n"
    assert not maintenance.enter(path, "h1", force=True)
    assert not maintenance.enter(path, "h1")  # entering without force keeps the force
    assert maintenance.read_entries(path) == (("h1", True), ("h2", True))
