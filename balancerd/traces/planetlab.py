"""The PlanetLab (CoMon) reader: a day folder, one file per VM, one integer CPU percentage per line.

Called by :func:`~balancerd.traces.formats.read` (``balancerd simulate --trace planetlab:DIR``,
``balancerd bench forecast --format planetlab``, the benchmarks) and by :func:`~balancerd.traces.sim.load_trace`
(``sim.trace = "planetlab:DIR"``). Lines are 5-minute steps in CloudSim's data; blank lines are ignored.
"""

from __future__ import annotations

from pathlib import Path

from balancerd.errors import TraceError
from balancerd.traces.files import percent, read_text, trace_files
from balancerd.traces.values import Recorded, VmSeries, frozen_array

FORMAT = "planetlab"
FIX = "a PlanetLab folder holds one file per VM with one integer CPU percentage (0..100) per line"
STEP_S = 300


def read_planetlab(folder: Path) -> Recorded:
    """Every file of ``folder``, sorted by name; a VM is named after its file."""
    vms = tuple(read_planetlab_file(path) for path in trace_files(folder, FIX))
    return Recorded(fmt=FORMAT, source=str(folder), vms=vms)


def read_planetlab_file(path: Path) -> VmSeries:
    """One PlanetLab file."""
    lines = read_text(path, FIX).splitlines()
    values = [percent(path, n, text, FIX) for n, text in enumerate(lines, start=1) if text.strip()]
    if not values:
        raise TraceError(path, "the file holds no values", FIX)
    return VmSeries(name=path.name, cpu_pct=frozen_array(values))
