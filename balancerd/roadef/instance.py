"""ROADEF/EURO 2012 machine reassignment: instance files parsed into numpy arrays.

Called by :mod:`balancerd.bench.roadef`, the benchmarks and the tests. The layout follows the problem
statement (problem_definition_v1.pdf, section 2.1): resources, machines, services, processes, balance
objectives, then the three move-cost weights, all whitespace-separated integers. Parsing consumes every
token exactly, so a file of the wrong shape is reported instead of silently misread.
"""

from __future__ import annotations

import os
import tempfile
import warnings
from pathlib import Path

import numpy as np

from balancerd.errors import BalancerdError
from balancerd.optimize.engine.model import BoolArray, IntArray, Model

__all__ = ["BoolArray", "Instance", "IntArray", "RoadefFormatError", "format_solution", "load_assignment", "load_model",
           "parse_model", "read_integers", "write_solution"]


class RoadefFormatError(BalancerdError):
    """A model, assignment or solution file does not match the challenge format."""


Instance = Model
"""An instance is the engine's model with the cluster extensions at their neutral defaults (the challenge is one
configuration of the model, :mod:`balancerd.optimize.engine.model`); :mod:`balancerd.roadef.objective` checks
it on the challenge's fields only."""


class _Tokens:
    """A cursor over the integers of one file."""

    def __init__(self, values: IntArray, name: str) -> None:
        self.values = values
        self.pos = 0
        self.name = name

    def take(self, count: int) -> IntArray:
        if count < 0 or self.pos + count > self.values.shape[0]:
            raise RoadefFormatError(f"{self.name}: file ends early (need {count} more integers at {self.pos})")
        out = self.values[self.pos : self.pos + count]
        self.pos += count
        return out

    def one(self) -> int:
        return int(self.take(1)[0])

    def table(self, rows: int, width: int) -> IntArray:
        return self.take(rows * width).reshape(rows, width)

    def finish(self) -> None:
        if self.pos != self.values.shape[0]:
            raise RoadefFormatError(f"{self.name}: {self.values.shape[0] - self.pos} unexpected trailing integers")


def read_integers(path: Path) -> IntArray:
    """Every whitespace-separated integer of a file, fast even for the 25 million of an X-sized model."""
    text = Path(path).read_bytes()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        try:
            return np.fromstring(text, dtype=np.int64, sep=" ")  # C parser, 4x faster than split()
        except (DeprecationWarning, ValueError):
            pass  # stray text: the slow path below says what is wrong
    try:
        return np.array(text.split(), dtype=np.int64)
    except ValueError as exc:
        raise RoadefFormatError(f"{path}: not a file of integers") from exc


def parse_model(values: IntArray, name: str = "model") -> Instance:
    """Build an :class:`Instance` from the integers of a model file."""
    tok = _Tokens(values, name)
    n_res = tok.one()
    res = tok.table(n_res, 2)
    n_mach = tok.one()
    mach = tok.table(n_mach, 2 + 2 * n_res + n_mach)
    spread_min, deps = _parse_services(tok)
    n_proc = tok.one()
    proc = tok.table(n_proc, 2 + n_res)
    n_bal = tok.one()
    bal = tok.table(n_bal, 4)
    weights = tok.take(3)
    tok.finish()
    inst = Instance(
        transient=res[:, 0] != 0, weight_load=res[:, 1].copy(),
        neighborhood=mach[:, 0].copy(), location=mach[:, 1].copy(),
        capacity=mach[:, 2 : 2 + n_res].copy(), safety=mach[:, 2 + n_res : 2 + 2 * n_res].copy(),
        machine_move_cost=np.ascontiguousarray(mach[:, 2 + 2 * n_res :]),
        spread_min=spread_min, dependencies=deps,
        service=proc[:, 0].copy(), requirement=np.ascontiguousarray(proc[:, 1 : 1 + n_res]),
        process_move_cost=proc[:, 1 + n_res].copy(),
        balance_r1=bal[:, 0].copy(), balance_r2=bal[:, 1].copy(),
        balance_target=bal[:, 2].copy(), balance_weight=bal[:, 3].copy(),
        weight_process_move=int(weights[0]), weight_service_move=int(weights[1]),
        weight_machine_move=int(weights[2]),
    )
    _validate(inst, name)
    return inst


def _parse_services(tok: _Tokens) -> tuple[IntArray, tuple[tuple[int, ...], ...]]:
    n_serv = tok.one()
    spread = np.zeros(n_serv, dtype=np.int64)
    deps: list[tuple[int, ...]] = []
    for s in range(n_serv):
        spread[s] = tok.one()
        count = tok.one()
        deps.append(tuple(int(d) for d in tok.take(count)))
    return spread, tuple(deps)


def _validate(inst: Instance, name: str) -> None:
    checks = [
        (inst.service, inst.n_services, "process service"),
        (inst.balance_r1, inst.n_resources, "balance resource"),
        (inst.balance_r2, inst.n_resources, "balance resource"),
    ]
    for arr, bound, what in checks:
        if arr.size and (arr.min() < 0 or arr.max() >= bound):
            raise RoadefFormatError(f"{name}: {what} index out of range")
    for deps in inst.dependencies:
        if any(d < 0 or d >= inst.n_services for d in deps):
            raise RoadefFormatError(f"{name}: dependency on an unknown service")


def load_model(path: Path) -> Instance:
    return parse_model(read_integers(path), str(path))


def load_assignment(path: Path, inst: Instance) -> IntArray:
    """An assignment (or solution) file: one machine index per process."""
    values = read_integers(path)
    if values.shape[0] != inst.n_processes:
        raise RoadefFormatError(f"{path}: {values.shape[0]} machines for {inst.n_processes} processes")
    if values.size and (values.min() < 0 or values.max() >= inst.n_machines):
        raise RoadefFormatError(f"{path}: machine index out of range")
    return values


def format_solution(assignment: IntArray) -> str:
    return " ".join(str(int(m)) for m in assignment) + "\n"


def write_solution(path: Path, assignment: IntArray) -> None:
    """Write atomically (temporary file in the same directory, then rename), so readers never see half a file."""
    path = Path(path)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent or Path("."))
    try:
        os.fchmod(fd, 0o644)  # mkstemp makes it 0600; a solution is for anyone to read
        with os.fdopen(fd, "w") as out:
            out.write(format_solution(assignment))
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
