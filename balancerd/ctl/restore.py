"""``balancerctl maintenance exit HOST --restore`` without a daemon: the restore opened in the journal file.

Called by :func:`balancerd.ctl.cli.cmd_maintenance` when no daemon answers on the control socket (with one, the
control API opens the restore). The daemon plans the move back once it runs and sees the host out of
maintenance (:mod:`balancerd.optimize.restore`).
"""

from __future__ import annotations

import sys

from balancerd.config import Config
from balancerd.journal import Journal


def restore_offline(config: Config, host: str, at: float) -> bool:
    """Open the restore to ``host`` in the configured journal file; whether anything was drained off it."""
    path = config.paths.journal
    journal = Journal(path) if path.exists() else None
    try:
        opened = journal is not None and journal.request_restore(host, at)
    finally:
        if journal is not None:
            journal.close()
    print(f"{host}: " + (f"its drained VMs come back when balancerd runs (restore opened in the journal {path})"
                         if opened else "nothing recorded as drained off it: nothing to bring back"), file=sys.stderr)
    return opened
