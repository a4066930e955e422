"""Training the pooled models (one per resource) from a copy of the history ring buffers.

Called by :meth:`balancerd.predict.predictor.Predictor.retrain`, off the cycle's thread. Usage is turned into
percent of each VM's size so that one model serves VMs of every size; the size itself is a feature.
Pure compute: the caller times it and logs the :class:`TrainReport`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from balancerd.predict import learner
from balancerd.predict.dataset import SeriesSet, spans_days, training_rows, without_clock
from balancerd.predict.features import Array
from balancerd.predict.history import Window

RESOURCES = ("cpu", "memory")


@dataclass(frozen=True, slots=True)
class Models:
    """What a training produced: a learned pair per resource, for ``horizon`` steps ahead."""

    horizon: int
    by_resource: tuple[tuple[str, learner.Learned], ...]
    clock: bool = True
    """Whether time of day / week were features (see :data:`~balancerd.predict.dataset.MIN_CLOCK_SPAN_S`)."""

    def get(self, resource: str) -> learner.Learned:
        return dict(self.by_resource)[resource]


@dataclass(frozen=True, slots=True)
class TrainReport:
    """The outcome of one training: ``trained`` False says why in ``detail``."""

    trained: bool
    detail: str
    horizon_steps: int
    vms: int = 0
    rows: int = 0
    observations: int = 0
    clock: bool = False


def percent_of_size(usage: Array, size: Array) -> Array:
    """Usage as percent of size, row-wise (a size of 0 counts as 1)."""
    return np.asarray(100.0 * usage / np.maximum(size, 1.0)[:, None])


def series_of(window: Window, resource: str) -> SeriesSet:
    """The rows of ``window`` for one resource, as the dataset builder wants them."""
    usage, size = (window.cpu, window.size_cpu) if resource == "cpu" else (window.mem, window.size_mem)
    values = percent_of_size(usage, size)
    times = np.broadcast_to(window.times, values.shape)
    series = SeriesSet(tuple(values), tuple(times), np.log(np.maximum(size, 1.0)))
    return series if spans_days(series) else without_clock(series)


def train(window: Window, horizon: int, min_history: int, max_rows: int,
          quantile: float) -> tuple[Models | None, TrainReport]:
    """Fit both resources' models, or say why not (too little history)."""
    fitted: list[tuple[str, learner.Learned]] = []
    rows = 0
    clock = True
    for resource in RESOURCES:
        series = series_of(window, resource)
        clock = spans_days(series)
        data = training_rows(series, horizon, min_history, max_rows)
        if len(data.target) < _MIN_ROWS:
            detail = f"{len(data.target)} training rows for {resource}; at least {_MIN_ROWS} needed"
            return None, TrainReport(False, detail, horizon, len(window.names))
        try:
            fitted.append((resource, learner.fit(data, quantile)))
        except ValueError as exc:
            return None, TrainReport(False, f"{resource}: {exc}", horizon, len(window.names))
        rows += len(data.target)
    report = TrainReport(True, "trained", horizon, len(window.names), rows, clock=clock)
    return Models(horizon, tuple(fitted), clock), report


_MIN_ROWS = 200
