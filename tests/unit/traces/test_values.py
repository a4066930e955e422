"""traces.values: frozen values, read-only arrays, step labels."""

from __future__ import annotations

import dataclasses

import pytest

from balancerd.traces.values import Recorded, VmSeries, frozen_array


def test_recorded_names_and_labels() -> None:
    vms = (VmSeries("a", frozen_array([1, 2, 3])), VmSeries("b", frozen_array([4])))
    recorded = Recorded(fmt="planetlab", source="x", vms=vms)
    assert recorded.names == ("a", "b")
    assert recorded.labels(0) == ("0", "1", "2") and recorded.labels(1) == ("0",)
    labelled = Recorded(fmt="wide-csv", source="x", vms=vms[:1], step_labels=("10", "20", "30"))
    assert labelled.labels(0) == ("10", "20", "30")


def test_values_are_frozen() -> None:
    vm = VmSeries("a", frozen_array([1]))
    with pytest.raises(dataclasses.FrozenInstanceError):
        vm.name = "b"  # type: ignore[misc]
    assert not vm.cpu_pct.flags.writeable
