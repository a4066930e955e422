"""The status file: what the daemon last saw and is doing, for ``balancerctl status``.

The daemon writes it atomically after every cycle and on every migration event; ``balancerctl`` reads it.
JSON, so operators and scripts can read it too.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from balancerd.errors import StateError
from balancerd.model import CycleReport, InFlight


def render(report: CycleReport, in_flight: tuple[InFlight, ...], pid: int, metrics_port: int | None,
           maintenance: frozenset[str]) -> dict[str, Any]:
    """The status document for ``report``."""
    util = {u.host: u for u in report.utilisation}
    hosts = [
        {
            "name": h.name,
            "reachable": h.reachable,
            "maintenance": h.name in maintenance,
            "vms": len(report.snapshot.vms_on(h.name)),
            "cpu_util": round(util[h.name].cpu, 4) if h.name in util else None,
            "memory_util": round(util[h.name].memory, 4) if h.name in util else None,
            "capacity_cpu_m": h.capacity.cpu_m,
            "capacity_mem_mib": h.capacity.mem_mib,
        }
        for h in report.snapshot.hosts
    ]
    return {
        "pid": pid,
        "metrics_port": metrics_port,
        "cycle": report.cycle,
        "mode": report.mode,
        "updated_at": report.started_at,
        "imbalance": round(report.imbalance, 4),
        "hosts": hosts,
        "maintenance": sorted(maintenance),
        "drain_remaining": dict(report.drain_remaining),
        "in_flight": [{"vm": f.vm, "source": f.source, "dest": f.dest} for f in in_flight],
        "plan": {"moves": len(report.plan.moves), "skipped": len(report.plan.skipped)},
        "errors": list(report.errors),
    }


def write(path: Path, document: Mapping[str, Any]) -> None:
    """Replace the status file atomically."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".status.")
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            json.dump(document, handle, indent=1)
        os.replace(tmp, path)
    except OSError as exc:
        raise StateError(f"cannot write status file {path}: {exc}") from exc


def read(path: Path) -> dict[str, Any]:
    """The last status the daemon wrote; StateError if there is none."""
    try:
        document: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise StateError(f"no status file at {path}: is balancerd running with this config?") from exc
    except (OSError, ValueError) as exc:
        raise StateError(f"cannot read status file {path}: {exc}") from exc
    return document
