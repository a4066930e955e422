"""Tests for balancerd.roadef.generate: feasible originals, and the text format round-trips."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from balancerd.roadef.generate import GenSpec, generate, write_instance
from balancerd.roadef.instance import load_assignment, load_model
from balancerd.roadef.objective import is_feasible, objective


@settings(max_examples=30, deadline=None)
@given(seed=st.integers(0, 100_000), machines=st.integers(3, 20), services=st.integers(1, 15))
def test_original_is_feasible(seed: int, machines: int, services: int) -> None:
    spec = GenSpec(machines=machines, processes=3 * services, services=services, resources=3, seed=seed)
    inst, orig = generate(spec)
    assert is_feasible(inst, orig, orig)
    assert objective(inst, orig, orig) >= 0


def test_files_round_trip(tmp_path: Path) -> None:
    inst, orig = generate(GenSpec(machines=7, processes=50, services=9, resources=5, transient=2, balances=2))
    model, original = tmp_path / "model_g.txt", tmp_path / "assignment_g.txt"
    write_instance(inst, orig, model, original)
    again = load_model(model)
    for name, value in inst.__dict__.items():
        other = again.__dict__[name]
        assert (np.asarray(value) == np.asarray(other)).all() if isinstance(value, np.ndarray) else value == other
    assert (load_assignment(original, again) == orig).all()
