"""Tests of balancerd.simulate.power: CloudSim's SPECpower tables and their interpolation."""

from __future__ import annotations

import numpy as np
import pytest

from balancerd.simulate.power import HP_ML110_G4, HP_ML110_G5, watts, watts_many


def test_tables_are_cloudsims() -> None:
    assert len(HP_ML110_G4) == len(HP_ML110_G5) == 11
    assert (HP_ML110_G4[0], HP_ML110_G4[5], HP_ML110_G4[10]) == (86.0, 102.0, 117.0)
    assert (HP_ML110_G5[0], HP_ML110_G5[5], HP_ML110_G5[10]) == (93.7, 116.0, 135.0)


@pytest.mark.parametrize(("util", "expected"), [(0.0, 86.0), (0.1, 89.4), (0.55, 104.0), (1.0, 117.0),
                                                (1.7, 117.0), (-0.2, 86.0)])
def test_linear_between_points_and_clamped(util: float, expected: float) -> None:
    assert watts(HP_ML110_G4, util) == pytest.approx(expected)


def test_many_hosts_at_once_use_their_own_table() -> None:
    tables = np.asarray([HP_ML110_G4, HP_ML110_G5])
    assert watts_many(tables, np.asarray([0.25, 0.25])).tolist() == pytest.approx([94.3, 103.0])
