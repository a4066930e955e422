"""The one reader of recorded traces: PlanetLab folders, Bitbrains folders, wide CSV files, the bundled extract.

Who calls it: the simulated backend (:func:`load_trace`, from ``backends/sim/fromconfig.py``), ``balancerd
simulate`` (:func:`load_workload`), ``balancerd bench forecast`` (:func:`read`) and the benchmarks. Every
reader returns a :class:`Recorded` (frozen, one :class:`VmSeries` per VM); every problem with a file raises
:class:`~balancerd.errors.TraceError` naming the file, the line and how to fix it, which the callers that read
a config key or a command-line option turn into a :class:`~balancerd.errors.ConfigError`.
"""

from __future__ import annotations

from balancerd.traces.bitbrains import read_bitbrains
from balancerd.traces.bundled import BUNDLED_FILE, read_bundled
from balancerd.traces.formats import FORMATS, read
from balancerd.traces.planetlab import read_planetlab
from balancerd.traces.sim import Trace, load_trace
from balancerd.traces.values import Recorded, Usage, VmSeries
from balancerd.traces.widecsv import read_wide_csv
from balancerd.traces.workload import Workload, load_workload

__all__ = [
    "BUNDLED_FILE", "FORMATS", "Recorded", "Trace", "Usage", "VmSeries", "Workload", "load_trace", "load_workload",
    "read", "read_bitbrains", "read_bundled", "read_planetlab", "read_wide_csv",
]
