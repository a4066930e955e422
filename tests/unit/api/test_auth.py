"""balancerd.api.auth: who may mutate, and the token file."""

from __future__ import annotations

import os
from pathlib import Path

from balancerd.api.auth import PeerAuth, load_token


def test_root_and_the_daemons_own_user_may_mutate() -> None:
    assert PeerAuth.default().admins == frozenset({0, os.geteuid()})


def test_the_token_is_the_file_without_surrounding_whitespace(tmp_path: Path) -> None:
    (tmp_path / "token").write_text("\n  abc def \n")
    assert load_token(str(tmp_path / "token")) == b"abc def"
