"""The optimizer: from a snapshot and a forecast to a safely ordered plan of VM moves.

Called by the daemon once per cycle and by the CLI (``balancerd plan``, ``--explain``). Pure: it imports
only ``balancerd.model`` and ``balancerd.config``. Modules: ``scoring`` (formulas), ``state`` (incremental
working state), ``constraints`` (eligibility rules with reasons), ``strategies`` (drain, balance),
``planner`` (safe ordering, parking), ``optimizer`` (``plan``, ``score``), ``explain``.
"""

from balancerd.optimize.explain import explain
from balancerd.optimize.optimizer import plan, score

__all__ = ["explain", "plan", "score"]
