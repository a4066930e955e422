"""ROADEF 2012: run the search on several cores at once, each worker with its own start, and keep the best.

Called by :mod:`balancerd.bench.roadef`. Worker 0 runs in the calling process (annealing start, and it is the
one whose improvements ``on_improve`` sees, so the solution file is kept current); the others are spawned
processes (the big-processes-first start, then annealing again with other seeds), which send their best
back through a pipe at the deadline. The starts complement each other on the A set: the sweep wins on a2_2,
annealing on a2_3. A worker that fails or misses the deadline by more than ``grace`` seconds is killed and
ignored, so the answer is never worse than worker 0's (the caller keeps ``grace`` within its own margin).
"""

from __future__ import annotations

import multiprocessing
import sys
import time
from dataclasses import replace
from multiprocessing.connection import Connection

from balancerd.optimize.roadef.instance import Instance, IntArray
from balancerd.optimize.roadef.search import Improve, SearchParams, solve


def worker_params(k: int, base: SearchParams | None = None) -> SearchParams:
    """Search knobs of worker k: 0 anneals, 1 sweeps big processes first, further workers alternate."""
    params = base or SearchParams()
    return replace(params, start="bigfirst" if k % 2 else "anneal")


def solve_parallel(
    inst: Instance,
    original: IntArray,
    deadline: float,
    workers: int,
    seed: int = 0,
    on_improve: Improve | None = None,
    grace: float = 0.5,
    min_seconds: float = 5.0,
) -> tuple[IntArray, int]:
    """Best assignment of ``workers`` searches (``deadline`` is a ``time.monotonic()`` value). With less than
    ``min_seconds`` left a single search runs: a spawned worker needs about 1.5 s to import its libraries."""
    if workers < 2 or deadline - time.monotonic() < min_seconds:
        return solve(inst, original, deadline, seed=seed, on_improve=on_improve, params=worker_params(0))
    ctx = multiprocessing.get_context("spawn")
    started = [_start(ctx, inst, original, deadline, seed, k) for k in range(1, workers)]
    best, total = solve(inst, original, deadline, seed=seed, on_improve=on_improve, params=worker_params(0))
    for proc, conn in started:
        found = _collect(proc, conn, deadline + grace)
        if found is not None and found[1] < total:
            best, total = found
    return best, total


def _start(
    ctx: multiprocessing.context.SpawnContext, inst: Instance, original: IntArray, deadline: float, seed: int, k: int
) -> tuple[multiprocessing.process.BaseProcess, Connection]:
    recv, send = ctx.Pipe(duplex=False)
    proc = ctx.Process(target=_worker, args=(send, inst, original, deadline, seed + k, k), daemon=True)
    proc.start()
    send.close()
    return proc, recv


def _worker(conn: Connection, inst: Instance, original: IntArray, deadline: float, seed: int, k: int) -> None:
    best, total = solve(inst, original, deadline, seed=seed, params=worker_params(k))
    conn.send((best, total))
    conn.close()


def _collect(
    proc: multiprocessing.process.BaseProcess, conn: Connection, until: float
) -> tuple[IntArray, int] | None:
    """The worker's (assignment, total), or None if it failed or is late; the worker is stopped either way."""
    found: tuple[IntArray, int] | None = None
    try:
        if conn.poll(max(0.0, until - time.monotonic())):
            found = conn.recv()
    except (EOFError, OSError) as exc:
        print(f"roadef worker pid {proc.pid} sent no result: {exc!r}", file=sys.stderr)
    finally:
        conn.close()
        proc.join(timeout=1.0)
        if proc.is_alive():
            proc.kill()
            proc.join()
    return found
