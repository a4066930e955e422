"""Unit tests of guest placement and console parsing (no libvirt needed)."""

from __future__ import annotations

from pathlib import Path

import pytest

from balancerd.lab import guests
from balancerd.lab.errors import LabError
from balancerd.lab.guests import Tick


def test_placement_is_round_robin() -> None:
    assert guests.placement(5, 3) == [("vm1", 1), ("vm2", 2), ("vm3", 3), ("vm4", 1), ("vm5", 2)]
    assert guests.placement(0, 3) == []


def test_last_tick_takes_the_last_line(tmp_path: Path) -> None:
    console = tmp_path / "vm1.log"
    assert guests.last_tick(console) is None
    console.write_text("Linux version ...\nTICK 1 boot=abcd1234\nnoise\nTICK 2 boot=abcd1234\nTICK 3 bo")
    assert guests.last_tick(console) == Tick(2, "abcd1234")


def test_wait_ticking_names_silent_consoles(tmp_path: Path) -> None:
    (tmp_path / "a.log").write_text("TICK 5 boot=00000001\n")
    (tmp_path / "b.log").write_text("booting\n")
    ticks = guests.wait_ticking([tmp_path / "a.log"], timeout_s=0.1)
    assert ticks == {str(tmp_path / "a.log"): Tick(5, "00000001")}
    with pytest.raises(LabError, match=r"b\.log"):
        guests.wait_ticking([tmp_path / "a.log", tmp_path / "b.log"], timeout_s=0.0)
