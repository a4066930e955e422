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


def test_forced_virt_is_used_without_probing(monkeypatch: pytest.MonkeyPatch) -> None:
    def no_probe(*_args: object) -> bool:
        raise AssertionError("must not probe")

    monkeypatch.setattr(guests, "probe_kvm", no_probe)
    monkeypatch.setattr(guests, "_exists", lambda _p: True)
    assert guests.choose_virt("qemu", None, None, None) == "qemu"  # type: ignore[arg-type]
    assert guests.choose_virt("kvm", None, None, None) == "kvm"  # type: ignore[arg-type]


def test_auto_uses_tcg_on_pvm_hosts_without_probing(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(guests, "probe_kvm", lambda *_a: True)
    monkeypatch.setattr(guests, "_exists", lambda p: p in ("/dev/kvm", "/sys/module/kvm_pvm"))
    assert guests.choose_virt("auto", None, None, None) == "qemu"  # type: ignore[arg-type]
    monkeypatch.setattr(guests, "_exists", lambda p: p == "/dev/kvm")
    assert guests.choose_virt("auto", None, None, None) == "kvm"  # type: ignore[arg-type]


def test_forced_kvm_without_dev_kvm_is_a_lab_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(guests, "_exists", lambda _p: False)
    with pytest.raises(LabError, match="/dev/kvm"):
        guests.choose_virt("kvm", None, None, None)  # type: ignore[arg-type]
