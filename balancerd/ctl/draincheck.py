"""`balancerctl drain --check HOST`: the drain proof of a host, without changing anything.

:mod:`balancerd.ctl.cli` calls :func:`cmd_check` for ``drain --check``. It asks the running daemon
(``GET /v1/drain/{host}/check``, computed on the daemon's last collection, after the hosts already in
maintenance); when nothing listens on the control socket it collects afresh and computes the same proof in
this process (:func:`balancerd.service.oneshot.drain_check_once`) and says so. Exit 0 when the whole
evacuation fits, 6 when it does not (the blockers are printed), 2 for an unknown host.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from balancerd import drainproof
from balancerd.api import validate
from balancerd.api.client import ControlClient
from balancerd.api.errors import NotListeningError
from balancerd.config import Config
from balancerd.ctl import views

EXIT_FEASIBLE = 0
EXIT_INFEASIBLE = 6


def cmd_check(args: argparse.Namespace, config: Config) -> int:
    """Print the proof (text or ``--json``); exit 0 feasible, 6 infeasible."""
    host = validate.name("host", args.host)
    try:
        answer = ControlClient(args.socket or config.control.socket).drain_check(host)
    except NotListeningError:
        answer = check_offline(config, host)
    print(json.dumps(answer, indent=2) if args.json else views.drain_check_text(answer))
    if answer.get("source") != "daemon":
        print("balancerctl: balancerd is not running; the proof was computed here from a fresh collection",
              file=sys.stderr)
    return EXIT_FEASIBLE if answer.get("feasible") else EXIT_INFEASIBLE


def check_offline(config: Config, host: str) -> dict[str, Any]:
    """The proof from a fresh collection in this process (no daemon listens)."""
    from balancerd.service.oneshot import drain_check_once  # collection needs the backend: only here

    proof, snapshot = drain_check_once(config, host)
    return {**drainproof.as_json(proof), "source": "fresh collection", "snapshot_seq": snapshot.seq,
            "taken_at": snapshot.taken_at}
