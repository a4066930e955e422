"""Unit tests of the lab CLI parser and its no-lab paths (no root needed)."""

from __future__ import annotations

from pathlib import Path

import pytest

from balancerd.lab import cli


def test_up_arguments() -> None:
    args = cli.build_parser().parse_args(["lab", "up", "--hosts", "2", "--vms", "4", "--virt", "qemu",
                                          "--dir", "/x", "--no-guests"])
    assert (args.hosts, args.vms, args.virt, args.dir, args.no_guests) == (2, 4, "qemu", "/x", True)
    assert args.func is cli.cmd_up


def test_unknown_virt_is_rejected() -> None:
    with pytest.raises(SystemExit):
        cli.build_parser().parse_args(["lab", "up", "--virt", "xen"])


def test_status_without_a_lab_exits_1(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["status", "--dir", str(tmp_path)]) == 1
    assert "no lab is up" in capsys.readouterr().err


def test_down_without_a_lab_exits_0(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["down", "--dir", str(tmp_path)]) == 0
    assert "nothing to do" in capsys.readouterr().err
