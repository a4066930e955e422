"""ROADEF 2012: run the engine's search on several cores at once, each worker with its own start, sharing the best.

Called by :mod:`balancerd.bench.roadef`. Outside the pure core: it owns the processes and the clock, hands
the instance (the engine's model, :mod:`balancerd.roadef.instance`) to the engine's
:func:`~balancerd.optimize.engine.search.solve`, the search the daemon's ``plan()`` runs. Worker 0 runs in the
calling process (annealing start, and it is the one whose improvements ``on_improve`` sees, so the solution file is
kept current); the others are spawned processes (the big-processes-first start, then annealing again with other
seeds). The starts complement each other on the A set: the sweep wins on a2_2, annealing on a2_3. In the CP-SAT
phase the workers post their best to each other's queues every few seconds and go on from a better one, and at the
deadline each spawned worker sends its best back through a pipe. A worker that fails or misses the deadline by more
than ``grace`` seconds is killed and ignored, so the answer is never worse than worker 0's (the caller keeps
``grace`` within its own margin)."""

from __future__ import annotations

import multiprocessing
import queue
import sys
import time
from dataclasses import replace
from multiprocessing.connection import Connection
from multiprocessing.queues import Queue

from balancerd.optimize.engine.search import Found, Improve, SearchParams, solve
from balancerd.roadef.instance import Instance, IntArray


def worker_params(k: int, base: SearchParams | None = None) -> SearchParams:
    """Search knobs of worker k: 0 anneals, 1 sweeps big processes first, further workers alternate."""
    params = base or SearchParams()
    return replace(params, start="bigfirst" if k % 2 else "anneal")


class Mailbox:
    """One worker's end of the exchange: posts its best to the others when it improved, reads theirs."""

    def __init__(self, inbox: Queue[Found], outboxes: list[Queue[Found]]) -> None:
        self.inbox = inbox
        self.outboxes = outboxes
        self.sent: int | None = None

    def __call__(self, best: IntArray, total: int) -> Found | None:
        if self.sent is None or total < self.sent:
            for box in self.outboxes:
                box.put((best, total))
            self.sent = total
        found = self._drain()
        return found if found is not None and found[1] < total else None

    def _drain(self) -> Found | None:
        found: Found | None = None
        while True:
            try:
                item = self.inbox.get_nowait()
            except queue.Empty:
                return found
            if found is None or item[1] < found[1]:
                found = item

    def close(self) -> None:
        """Stop without waiting for queued posts to be read (a finished peer never reads them)."""
        for box in [self.inbox, *self.outboxes]:
            box.close()
            box.cancel_join_thread()


def solve_parallel(
    inst: Instance,
    original: IntArray,
    deadline: float,
    workers: int,
    seed: int = 0,
    on_improve: Improve | None = None,
    grace: float = 0.5,
    min_seconds: float = 5.0,
) -> Found:
    """Best assignment of ``workers`` searches (``deadline`` is a ``time.monotonic()`` value). With less than
    ``min_seconds`` left a single search runs: a spawned worker needs about 1.5 s to import its libraries."""
    if workers < 2 or deadline - time.monotonic() < min_seconds:
        return solve(inst, original, deadline, time.monotonic, seed=seed, on_improve=on_improve,
                     params=worker_params(0))
    ctx = multiprocessing.get_context("spawn")
    boxes: list[Queue[Found]] = [ctx.Queue() for _ in range(workers)]
    started = [_start(ctx, inst, original, deadline, seed, k, boxes) for k in range(1, workers)]
    mailbox = _mailbox(0, boxes)
    best, total = solve(inst, original, deadline, time.monotonic, seed=seed, on_improve=on_improve,
                        params=worker_params(0), share=mailbox)
    for proc, conn in started:
        found = _collect(proc, conn, deadline + grace)
        if found is not None and found[1] < total:
            best, total = found
    mailbox.close()
    return best, total


def _mailbox(k: int, boxes: list[Queue[Found]]) -> Mailbox:
    return Mailbox(boxes[k], [box for i, box in enumerate(boxes) if i != k])


def _start(
    ctx: multiprocessing.context.SpawnContext, inst: Instance, original: IntArray, deadline: float, seed: int,
    k: int, boxes: list[Queue[Found]],
) -> tuple[multiprocessing.process.BaseProcess, Connection]:
    recv, send = ctx.Pipe(duplex=False)
    proc = ctx.Process(target=_worker, args=(send, inst, original, deadline, seed + k, k, boxes), daemon=True)
    proc.start()
    send.close()
    return proc, recv


def _worker(
    conn: Connection, inst: Instance, original: IntArray, deadline: float, seed: int, k: int,
    boxes: list[Queue[Found]],
) -> None:
    mailbox = _mailbox(k, boxes)
    best, total = solve(inst, original, deadline, time.monotonic, seed=seed, params=worker_params(k),
                        share=mailbox)
    mailbox.close()
    conn.send((best, total))
    conn.close()


def _collect(proc: multiprocessing.process.BaseProcess, conn: Connection, until: float) -> Found | None:
    """The worker's (assignment, total), or None if it failed or is late; the worker is stopped either way."""
    found: Found | None = None
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
