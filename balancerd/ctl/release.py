"""`balancerctl release VM`: forget a VM's failed moves so that the planner may move it again.

:mod:`balancerd.ctl.cli` registers the verb. With a daemon listening on the control socket, the daemon clears
the VM's failure memory, journals who asked and plans again at once (``POST /v1/release/{vm}``). When nothing
listens, the rows are cleared in the journal file the config names (``[paths] journal``), the action is
journalled there, and the next start (or the next cycle of a daemon whose API is off) plans without them. A VM
with no records is "nothing to release", exit 0, and a missing journal file is left uncreated.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from typing import Any

from balancerd import failmemory
from balancerd.api import validate
from balancerd.api.client import ControlClient
from balancerd.api.errors import NotListeningError
from balancerd.api.protocol import Caller
from balancerd.config import Config
from balancerd.ctl import views
from balancerd.journal import Journal


def add_verb(sub: Any) -> None:
    """Register ``release VM [--json]`` on ``balancerctl``'s sub-parsers."""
    release = sub.add_parser("release", help="forget a VM's failed moves (a held VM may move again)")
    release.add_argument("vm")
    release.add_argument("--json", action="store_true", help="print the answer as JSON")
    release.set_defaults(func=cmd_release)


def cmd_release(args: argparse.Namespace, config: Config) -> int:
    """Exit 0 once released (or nothing to release), through the daemon or, without one, the journal file."""
    vm = validate.name("VM", args.vm)
    try:
        answer = ControlClient(args.socket or config.control.socket).release(vm)
    except NotListeningError:
        answer = release_offline(config, vm, args.clock.now())
    print(json.dumps(answer, indent=2) if args.json else views.release_text(answer))
    if answer.get("offline") and not args.json:
        print(f"balancerctl: balancerd is not running; released in the journal {config.paths.journal}",
              file=sys.stderr)
    return 0


def release_offline(config: Config, vm: str, at: float) -> dict[str, Any]:
    """Clear ``vm``'s rows in the configured journal file and journal the action (no daemon listens)."""
    path = config.paths.journal
    if not path.exists():
        return failmemory.release_answer(vm, (), offline=True)
    journal = Journal(path)
    try:
        cleared = journal.release_failures(vm)
        caller = Caller(os.getuid(), os.getpid(), via="journal file").describe() + " on the journal file"
        journal.record_action(at, caller, "release", f"{vm}: {len(cleared)} failure records cleared")
    finally:
        journal.close()
    return failmemory.release_answer(vm, cleared, offline=True)
