"""The pooled scikit-learn forecaster: a conditional median and a calibrated upper quantile.

Called by :meth:`balancerd.predict.predictor.Predictor.retrain` and by the backtest. Both models are
histogram gradient boosting over the rows of :mod:`balancerd.predict.dataset` and predict the CHANGE from
the last sample (the series are mostly persistent). The point model minimises absolute error (a median);
the upper model is a quantile regression whose offset is then set, conformal style, on the latest part of
the training rows, which the models did not see, so that the upper value covers ``quantile`` of them.
This is the only module that imports scikit-learn, and only when a model is trained (:func:`fit`): its 1-2 s
of import are not paid by a daemon or ``balancerd plan`` that has no trained model. Its OpenMP
runs on ONE thread: on a shared machine, two spinning OpenMP threads competing with other processes make
training and inference many times slower.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
from threadpoolctl import threadpool_limits  # type: ignore[import-untyped]

from balancerd.predict.dataset import Rows
from balancerd.predict.features import Array

if TYPE_CHECKING:
    from sklearn.ensemble import HistGradientBoostingRegressor

CALIBRATION_SHARE = 0.2
"""The latest share of the training rows (by position in their series) held out for calibration."""


@dataclass(frozen=True, slots=True)
class Learned:
    """A trained pair of models; ``offset`` is added to the upper model's output."""

    point: HistGradientBoostingRegressor
    upper: HistGradientBoostingRegressor
    offset: float
    quantile: float
    rows: int


THREADS = 1


def fit(rows: Rows, quantile: float, seed: int = 0) -> Learned:
    """Train on ``rows``; raise ValueError when there are too few rows to hold some out."""
    estimator = _estimator()  # before the limit: threadpoolctl limits only the OpenMP already loaded
    with threadpool_limits(limits=THREADS, user_api="openmp"):
        return _fit(rows, quantile, seed, estimator)


def _estimator() -> type[HistGradientBoostingRegressor]:
    """scikit-learn's estimator class, imported on first use."""
    from sklearn.ensemble import HistGradientBoostingRegressor as estimator

    found: type[HistGradientBoostingRegressor] = estimator
    return found


def _fit(rows: Rows, quantile: float, seed: int, estimator: type[HistGradientBoostingRegressor]) -> Learned:
    late = rows.lateness >= np.quantile(rows.lateness, 1 - CALIBRATION_SHARE) if len(rows.lateness) else None
    if late is None or late.all() or not late.any():
        raise ValueError("too few training rows to calibrate the upper quantile")
    delta = rows.target - rows.last
    point = _model(estimator, "absolute_error", 0.5, seed).fit(rows.x[~late], delta[~late])
    upper = _model(estimator, "quantile", quantile, seed).fit(rows.x[~late], delta[~late])
    residual = delta[late] - upper.predict(rows.x[late])
    offset = float(np.quantile(residual, _finite_sample_level(quantile, int(late.sum()))))
    return Learned(point, upper, offset, quantile, len(delta))


def predict(learned: Learned, x: Array, last: Array) -> tuple[Array, Array]:
    """Point and upper forecasts (same units as ``last``), the upper never below the point."""
    if len(x) == 0:
        return np.zeros(0), np.zeros(0)
    with threadpool_limits(limits=THREADS, user_api="openmp"):
        point = last + learned.point.predict(x)
        upper = last + learned.upper.predict(x) + learned.offset
    return point, np.maximum(upper, point)


def _model(estimator: type[HistGradientBoostingRegressor], loss: str, quantile: float,
           seed: int) -> HistGradientBoostingRegressor:
    return estimator(
        loss=loss, quantile=quantile if loss == "quantile" else None, max_iter=100, learning_rate=0.2,
        max_leaf_nodes=31, min_samples_leaf=40, l2_regularization=1.0, early_stopping=False, random_state=seed,
    )


def _finite_sample_level(quantile: float, n: int) -> float:
    return min(1.0, quantile * (n + 1) / n)
