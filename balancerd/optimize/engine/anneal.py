"""Simulated annealing with heat-bath moves (one process against every machine at once).

Called by :mod:`balancerd.optimize.engine.search`. A step takes one process, evaluates its shift to every
feasible machine exactly (numpy), and draws the target with probability proportional to exp(-delta / T)
(the Gumbel-max trick; staying put is one of the options), so one step does the work of many Metropolis
proposals. The search pairs each such step with an improving swap (:func:`moves.best_swap`).
"""

from __future__ import annotations

import numpy as np

from balancerd.optimize.engine.state import State


def shift_step(st: State, p: int, temperature: float, rng: np.random.Generator) -> None:
    targets = st.shift_targets(p)
    if targets.shape[0] == 0:
        return
    deltas = st.shift_deltas(p, targets).astype(np.float64)
    scores = deltas - temperature * rng.gumbel(size=deltas.shape[0])
    i = int(np.argmin(scores))
    if scores[i] < -temperature * rng.gumbel():
        st.move(p, int(targets[i]))
