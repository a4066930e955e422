"""A drain proof (:class:`~balancerd.model.Evacuation`) as JSON, the one shape every reader gets.

Called by the control API's ``GET /v1/drain/{host}/check`` (:mod:`balancerd.service.control`), by the status
file's ``drains`` entries (:mod:`balancerd.service.status`) and by ``balancerctl drain --check`` when no
daemon runs (:mod:`balancerd.ctl.draincheck`). ``balancerctl`` prints the text of this JSON
(:func:`balancerd.ctl.views.drain_check_text`). The keys ``host``, ``feasible``, ``moves`` (``vm``, ``dest``,
``kind``, ``seconds``), ``blockers`` (``vm``, ``reason``) and ``estimated_s`` are the issue's contract; more
may be added, never removed.
"""

from __future__ import annotations

from typing import Any

from balancerd.model import Evacuation


def as_json(proof: Evacuation) -> dict[str, Any]:
    """The proof as a JSON object: moves in order with estimated seconds, blockers with their reasons."""
    return {
        "host": proof.host,
        "feasible": proof.feasible,
        "forced": proof.forced,
        "drains": proof.drains,
        "moves": [{"vm": s.vm, "dest": s.dest, "kind": s.kind.value, "seconds": round(s.seconds, 1)}
                  for s in proof.moves],
        "blockers": [{"vm": b.vm, "reason": b.reason, "reasons": list(b.reasons)} for b in proof.blockers],
        "estimated_s": round(proof.estimated_s, 1),
        "after": list(proof.before),
    }


def summary(proof: Evacuation) -> dict[str, Any]:
    """The short form the status file keeps per host in maintenance (no move list)."""
    return {"feasible": proof.feasible, "forced": proof.forced, "moves_left": len(proof.moves),
            "estimated_s": round(proof.estimated_s, 1),
            "blockers": [{"vm": b.vm, "reason": b.reason} for b in proof.blockers]}
