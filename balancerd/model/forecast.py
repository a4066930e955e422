"""The predictor's output: each VM's expected use one horizon ahead, and how wrong past forecasts were.

Built by :mod:`balancerd.predict`, read by the optimizer and the metrics (``balancerd.model``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from balancerd.model.resources import Resources


@dataclass(frozen=True, slots=True)
class VmForecast:
    """Predicted usage of one VM over the horizon: a point value and an upper quantile."""

    vm: str
    point: Resources
    upper: Resources


@dataclass(frozen=True, slots=True)
class Forecast:
    """Predicted usage of every VM the predictor knows, for ``horizon_s`` seconds ahead."""

    horizon_s: int
    vms: tuple[VmForecast, ...] = ()
    method: str = "last"

    def as_mapping(self) -> Mapping[str, VmForecast]:
        return {f.vm: f for f in self.vms}


@dataclass(frozen=True, slots=True)
class ForecastError:
    """How forecasts made ``horizon_s`` earlier compare with the usage observed now, for one resource.

    ``resource`` is "cpu" (``mae`` in millicores) or "memory" (``mae`` in MiB); ``coverage`` is the share of
    the ``vms`` compared whose usage was at most the upper forecast.
    """

    resource: str
    horizon_s: int
    mae: float
    coverage: float
    vms: int
