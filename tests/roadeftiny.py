"""The tiny hand-made ROADEF instance whose costs the tests work out by hand (roadef and engine fixtures)."""

from __future__ import annotations

import numpy as np
import pytest

from balancerd.roadef.instance import Instance, IntArray, parse_model

# 2 resources (r0 transient, weight 10; r1 weight 1); 3 machines; 2 services (s1 depends on s0, s0 spread 2);
# 4 processes; 1 balance objective (r0, r1, target 2, weight 7); move weights 1 / 10 / 100.
TINY_MODEL = """2
1 10
0 1
3
0 0 10 10 8 8 0 1 2
0 1 7 10 5 5 1 0 1
1 1 6 6 2 6 2 1 0
2
2 0
1 1 0
4
0 4 2 3
0 3 1 1
1 2 3 0
1 1 1 5
1
0 1 2
7
1 10 100
"""
TINY_ORIGINAL = [0, 1, 0, 1]


@pytest.fixture
def tiny() -> Instance:
    return parse_model(np.array(TINY_MODEL.split(), dtype=np.int64), "tiny")


@pytest.fixture
def tiny_original() -> IntArray:
    return np.array(TINY_ORIGINAL, dtype=np.int64)


@pytest.fixture
def tiny_text() -> str:
    return TINY_MODEL
