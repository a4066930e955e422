"""The optimizer: from a snapshot and a forecast to a safely ordered plan of VM moves.

Called by the daemon once per cycle and by the CLI (``balancerd plan``, ``--explain``). Pure: it imports
only ``balancerd.model`` and ``balancerd.config``, and no module that touches files, processes or the clock.
Modules: ``scoring`` (formulas), ``arrays`` and ``state`` (incremental working state), ``rules`` and
``constraints`` (placement rules, eligibility with reasons), ``drain``, ``balance`` and ``consolidate`` (the
strategies), ``steps`` (what they share: Move records, swaps), ``planner`` (safe ordering, parking), ``evacuation``
(the drain proof), ``limits`` (what the service lets a plan start), ``bounds`` and ``relaxation`` (lower bounds),
``optimizer`` (``plan``, ``score``, ``check_drain``), ``explain``.
"""

from balancerd.optimize.engine.improve import Search
from balancerd.optimize.explain import explain
from balancerd.optimize.limits import Limits
from balancerd.optimize.optimizer import DrainInputs, check_drain, plan, score

__all__ = ["DrainInputs", "Limits", "Search", "check_drain", "explain", "plan", "score"]
