"""balancerd.api.peercred: the kernel's record of who connected."""

from __future__ import annotations

import os
import socket

import pytest

from balancerd.api.errors import RequestError
from balancerd.api.peercred import Peer, peer_of


def test_the_peer_of_a_socketpair_is_this_process() -> None:
    left, right = socket.socketpair(socket.AF_UNIX)
    with left, right:
        assert peer_of(left) == Peer(pid=os.getpid(), uid=os.geteuid(), gid=os.getegid())


def test_a_tcp_socket_or_none_has_no_credentials() -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as tcp, pytest.raises(RequestError) as refused:
        peer_of(tcp)
    assert refused.value.status == 403
    with pytest.raises(RequestError):
        peer_of(None)
