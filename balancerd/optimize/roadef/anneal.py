"""ROADEF 2012: simulated annealing with heat-bath moves (one process against every machine at once).

Called by :mod:`balancerd.optimize.roadef.search`. A step takes one process, evaluates its shift to every
feasible machine exactly (numpy), and draws the target with probability proportional to exp(-delta / T)
(the Gumbel-max trick; staying put is one of the options), so one step does the work of many Metropolis
proposals. A swap step draws among screened swaps the same way and keeps the swap only if it is feasible.
"""

from __future__ import annotations

import numpy as np

from balancerd.optimize.roadef.moves import swap_deltas, try_moves
from balancerd.optimize.roadef.state import State

NEVER = 1 << 62


def shift_step(st: State, p: int, temperature: float, rng: np.random.Generator) -> None:
    targets = st.shift_targets(p)
    if targets.shape[0] == 0:
        return
    deltas = st.shift_deltas(p, targets).astype(np.float64)
    scores = deltas - temperature * rng.gumbel(size=deltas.shape[0])
    i = int(np.argmin(scores))
    if scores[i] < -temperature * rng.gumbel():
        st.move(p, int(targets[i]))


def swap_step(st: State, p: int, partners: np.ndarray, temperature: float, rng: np.random.Generator) -> None:
    cands, deltas = swap_deltas(st, p, partners)
    if cands.shape[0] == 0:
        return
    scores = deltas.astype(np.float64) - temperature * rng.gumbel(size=deltas.shape[0])
    i = int(np.argmin(scores))
    if scores[i] < -temperature * rng.gumbel():
        q = int(cands[i])
        try_moves(st, [(p, int(st.assign[q])), (q, int(st.assign[p]))], slack=NEVER)
