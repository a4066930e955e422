"""Simulated annealing on the compiled moves: random shifts and swaps, Metropolis acceptance, geometric cooling.

Called by :mod:`balancerd.optimize.engine.search` for the first phase of the ROADEF workers (the daemon's plans skip
it: they start from construction). The steps run in compiled chunks (:func:`compiled.anneal`, 2.3-3.0 million steps
a second on a2_2 by ``benchmarks/anneal_speed.py``), so the caller reads its clock between chunks and sets each
chunk's temperatures from it. The annealer works on its own copies of the state's sums; :meth:`Annealer.assignment`
hands the result back, and the caller rebuilds its state from it.
"""

from __future__ import annotations

from balancerd.optimize.engine import compiled
from balancerd.optimize.engine.model import IntArray
from balancerd.optimize.engine.state import State


class Annealer:
    """One annealing run from a state."""

    def __init__(self, st: State) -> None:
        self.fixed = compiled.fixed_of(st.inst, st.orig)
        self.live = compiled.live_of(st)

    @property
    def total(self) -> int:
        return int(self.live.counters[compiled.TOTAL])

    @property
    def best_total(self) -> int:
        """The lowest total seen (sampled every few hundred steps and at the end of each chunk)."""
        return int(self.live.counters[compiled.BEST])

    def best(self) -> IntArray:
        return self.live.best.copy()

    def assignment(self) -> IntArray:
        return self.live.assign.copy()

    def run(self, steps: int, t_from: float, t_to: float, seed: int, swap_share: float) -> int:
        """``steps`` steps cooling from ``t_from`` to ``t_to``; returns how many moves were kept."""
        return int(compiled.anneal(self.fixed, self.live, steps, max(t_from, 1e-9), max(t_to, 1e-9), seed,
                                   swap_share))
