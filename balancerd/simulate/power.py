"""Server power models from SPECpower_ssj2008 results: watts at 0, 10, ..., 100 % CPU utilisation.

Called by :mod:`balancerd.simulate.accounting` to turn host utilisation into energy, and by
:mod:`balancerd.simulate.placement` for power-aware initial placement. Between two table points power is
interpolated linearly, as CloudSim's ``PowerModelSpecPower`` does.

The two tables are the ones CloudSim uses for the Beloglazov & Buyya 2012 PlanetLab experiments
(Cloudslab/cloudsim, ``org.cloudbus.cloudsim.power.models``):
``PowerModelSpecPowerHpProLiantMl110G4Xeon3040`` (HP ProLiant ML110 G4, 1 x Xeon 3040 1860 MHz, 2 cores, 4 GB;
spec.org power_ssj2008-20110127-00342) and ``PowerModelSpecPowerHpProLiantMl110G5Xeon3075`` (HP ProLiant
ML110 G5, 1 x Xeon 3075 2660 MHz, 2 cores, 4 GB; spec.org power_ssj2008-20110124-00339).
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

HP_ML110_G4 = (86.0, 89.4, 92.6, 96.0, 99.5, 102.0, 106.0, 108.0, 112.0, 114.0, 117.0)
HP_ML110_G5 = (93.7, 97.0, 101.0, 105.0, 110.0, 116.0, 121.0, 125.0, 129.0, 133.0, 135.0)

PowerTable = tuple[float, ...]
Floats = npt.NDArray[np.float64]


def watts(table: PowerTable, utilisation: float) -> float:
    """Power at ``utilisation`` (a fraction, clamped to 0..1), interpolated between the table's points."""
    return float(watts_many(np.asarray([table], dtype=np.float64), np.asarray([utilisation]))[0])


def watts_many(tables: Floats, utilisation: Floats) -> Floats:
    """Power of many hosts at once: ``tables`` has one row of 11 points per host, ``utilisation`` one value."""
    scaled = np.clip(utilisation, 0.0, 1.0) * 10.0
    low = np.minimum(np.floor(scaled).astype(np.int64), 9)
    rows = np.arange(len(tables))
    base = tables[rows, low]
    return np.asarray(base + (tables[rows, low + 1] - base) * (scaled - low), dtype=np.float64)
