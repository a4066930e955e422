"""Baseline forecasters of one VM: last value and EWMA, each with an upper band.

The scalar reference of the baselines: the predictor uses the vectorised versions in
:mod:`balancerd.predict.inference` (over every VM at once), which the unit tests check against these. The
upper value is what capacity is planned on: for EWMA, the mean plus two exponentially weighted standard
deviations, never below the last sample.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from balancerd.model import Resources


def last_value(series: Sequence[Resources]) -> tuple[Resources, Resources]:
    """Point and upper forecast: both the latest sample."""
    last = series[-1]
    return last, last


def ewma(series: Sequence[Resources], alpha: float) -> tuple[Resources, Resources]:
    """Point = EWMA of the samples; upper = EWMA + 2 sigma (EW variance), at least the last sample."""
    cpu_mean, cpu_sd = _ewm_stats([s.cpu_m for s in series], alpha)
    mem_mean, mem_sd = _ewm_stats([s.mem_mib for s in series], alpha)
    point = Resources(round(cpu_mean), round(mem_mean))
    upper = Resources(math.ceil(cpu_mean + 2 * cpu_sd), math.ceil(mem_mean + 2 * mem_sd))
    return point, upper.max_with(series[-1])


def _ewm_stats(values: Sequence[int], alpha: float) -> tuple[float, float]:
    mean = float(values[0])
    var = 0.0
    for value in values[1:]:
        diff = value - mean
        increment = alpha * diff
        mean += increment
        var = (1 - alpha) * (var + diff * increment)
    return mean, math.sqrt(var)
