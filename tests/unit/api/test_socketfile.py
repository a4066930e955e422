"""balancerd.api.socketfile: a stale socket file is replaced, a live one, a plain file or a long path are not."""

from __future__ import annotations

import os
import socket
import stat
from pathlib import Path

import pytest

from balancerd.api import socketfile
from balancerd.api.errors import ApiError
from balancerd.errors import ConfigError


def _stale(path: Path) -> None:
    """A socket file nobody listens on any more, as a killed daemon leaves it."""
    dead = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    dead.bind(str(path))
    dead.close()


def test_bind_listens_with_mode_0660(tmp_path: Path) -> None:
    bound = socketfile.bind(tmp_path / "c.sock", gid=os.getegid())
    try:
        assert stat.S_IMODE(os.stat(bound.path).st_mode) == socketfile.SOCKET_MODE
        assert socketfile.answers(bound.path)
    finally:
        socketfile.remove(bound)
    assert not bound.path.exists()


def test_a_stale_socket_file_is_replaced(tmp_path: Path) -> None:
    path = tmp_path / "c.sock"
    _stale(path)
    assert not socketfile.answers(path)
    bound = socketfile.bind(path, gid=os.getegid())
    try:
        assert socketfile.answers(path)
    finally:
        socketfile.remove(bound)


def test_a_socket_a_live_process_answers_on_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "c.sock"
    live = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    live.bind(str(path))
    live.listen()
    try:
        with pytest.raises(ApiError, match="another process answers"):
            socketfile.bind(path, gid=os.getegid())
        assert path.exists() and socketfile.answers(path)
    finally:
        live.close()


def test_a_file_that_is_not_a_socket_is_left_alone(tmp_path: Path) -> None:
    path = tmp_path / "c.sock"
    path.write_text("precious")
    with pytest.raises(ApiError, match="exists and is not a socket"):
        socketfile.bind(path, gid=os.getegid())
    assert path.read_text() == "precious"


def test_a_path_too_long_for_a_unix_socket_names_control_socket(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"control\.socket.*at most 107 bytes"):
        socketfile.bind(tmp_path / ("x" * 120), gid=os.getegid())


def test_remove_leaves_a_file_another_server_bound_since(tmp_path: Path) -> None:
    path = tmp_path / "c.sock"
    first = socketfile.bind(path, gid=os.getegid())
    first.sock.close()
    os.rename(path, tmp_path / "moved.sock")  # kept, so its inode cannot be reused for the new file
    second = socketfile.bind(path, gid=os.getegid())
    try:
        socketfile.remove(first)
        assert socketfile.answers(path)
    finally:
        socketfile.remove(second)


def test_group_id() -> None:
    assert socketfile.group_id("") == 0
    assert socketfile.group_id("root") == 0
    with pytest.raises(ConfigError, match=r"control\.group"):
        socketfile.group_id("no-such-group-here")
