"""The bundled trace: 500 PlanetLab VMs of 2011-03-03 shipped as ``balancerd/data/planetlab-20110303.csv.gz``.

Called by :func:`~balancerd.traces.sim.load_trace` (``sim.trace = "bundled"``: the demo, ``balancerd plan``
and ``run`` on the simulated backend, tests, ``benchmarks/optimizer_scale.py``). The file, written by
``scripts/make-bundled-trace``, holds one line per VM without a header: ``name,v0,v1,...`` with integer CPU
percentages (0..100) per 5-minute step. It is parsed once per process.
"""

from __future__ import annotations

import functools
import importlib.resources
from pathlib import Path

from balancerd.errors import TraceError
from balancerd.traces.files import percent, read_text
from balancerd.traces.values import Recorded, VmSeries, frozen_array

FORMAT = "bundled"
BUNDLED_FILE = "planetlab-20110303.csv.gz"
FIX = ("the bundled file holds one line 'name,v0,v1,...' per VM with integer CPU percentages (0..100); "
       "regenerate it with scripts/make-bundled-trace or reinstall balancerd")


@functools.lru_cache(maxsize=1)
def read_bundled() -> Recorded:
    """The bundled extract (the value is immutable, so it is cached)."""
    resource = importlib.resources.files("balancerd") / "data" / BUNDLED_FILE
    with importlib.resources.as_file(resource) as path:
        return read_rows(path)


def read_rows(path: Path) -> Recorded:
    """A file in the bundled layout: ``name,v0,v1,...`` per line, gzip or not; blank lines ignored."""
    lines = read_text(path, FIX).splitlines()
    vms = tuple(_vm(path, n, line) for n, line in enumerate(lines, start=1) if line.strip())
    if not vms:
        raise TraceError(path, "the file holds no VM series", FIX)
    return Recorded(fmt=FORMAT, source=str(path), vms=vms)


def _vm(path: Path, line: int, text: str) -> VmSeries:
    name, *fields = text.split(",")
    if not fields:
        raise TraceError(path, f"VM {name!r} has no values", FIX, line)
    return VmSeries(name=name, cpu_pct=frozen_array([percent(path, line, cell, FIX) for cell in fields]))
