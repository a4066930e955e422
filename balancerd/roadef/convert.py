"""ROADEF/EURO 2012: an instance as the engine's model (the challenge is one configuration of that model).

Called by :mod:`balancerd.roadef.portfolio` before it hands the problem to the engine
(:func:`balancerd.optimize.engine.search.solve`). Every array is the instance's own; what the model adds for
clusters (a second load tier, masks, frozen processes, placement costs, a move budget) stays at its neutral
default, so the engine's objective is the challenge's (checked against :mod:`balancerd.roadef.objective`).
"""

from __future__ import annotations

import dataclasses

from balancerd.optimize.engine.model import Model
from balancerd.roadef.instance import Instance


def to_model(inst: Instance) -> Model:
    """The engine's model of ``inst``."""
    return Model(**{f.name: getattr(inst, f.name) for f in dataclasses.fields(Instance)})
