"""Recorded CPU traces that drive the simulated cluster.

``backends.sim`` (``SimCluster.from_config``) calls :func:`load_trace` with the ``sim.trace`` setting to give
every simulated VM a realistic CPU demand over time; benchmarks and ``balancerd simulate`` reach it the same
way. Two sources exist: ``"bundled"``, a compact extract of 500 PlanetLab VMs (2011-03-03) shipped in
``balancerd/data/`` (derived by ``scripts/make-bundled-trace``), and ``"planetlab:DIR"``, a folder in the
PlanetLab (CoMon) layout: one file per VM, one integer CPU percentage per line and step.

Every problem raises :class:`~balancerd.errors.ConfigError` for the key ``sim.trace``, naming the file and line.
"""

from __future__ import annotations

import functools
import gzip
import importlib.resources
import math
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from balancerd.errors import ConfigError

BUNDLED_FILE = "planetlab-20110303.csv.gz"
_KEY = "sim.trace"
_ALLOWED_SPECS = "use 'bundled' or 'planetlab:DIR' (a folder of PlanetLab CPU files)"


@dataclass(frozen=True, slots=True)
class Trace:
    """CPU demand in percent (0..100) per step of ``step_s`` seconds, one series per VM."""

    names: tuple[str, ...]
    step_s: int
    series: tuple[tuple[int, ...], ...]

    def __len__(self) -> int:
        return len(self.series)

    def value(self, index_vm: int, t_s: float) -> int:
        """The percentage of series ``index_vm`` at ``t_s`` seconds; the series repeats after its end."""
        values = self.series[index_vm]
        return values[math.floor(t_s / self.step_s) % len(values)]


def load_trace(spec: str, step_s: int = 300) -> Trace:
    """The trace named by ``spec`` (``"bundled"`` or ``"planetlab:DIR"``) with steps of ``step_s`` seconds."""
    if step_s <= 0:
        raise ConfigError("sim.trace_step_s", step_s, "must be a positive number of seconds")
    if spec == "bundled":
        names, series = _bundled()
    elif spec.startswith("planetlab:") and spec.removeprefix("planetlab:"):
        names, series = _planetlab_dir(spec, Path(spec.removeprefix("planetlab:")))
    else:
        raise ConfigError(_KEY, spec, _ALLOWED_SPECS)
    return Trace(names=names, step_s=step_s, series=series)


_Loaded = tuple[tuple[str, ...], tuple[tuple[int, ...], ...]]


@functools.lru_cache(maxsize=1)
def _bundled() -> _Loaded:
    """The bundled extract, parsed once per process (the value is immutable)."""
    resource = importlib.resources.files("balancerd") / "data" / BUNDLED_FILE
    try:
        text = gzip.decompress(resource.read_bytes()).decode("ascii")
    except (OSError, EOFError, UnicodeDecodeError) as exc:
        raise ConfigError(_KEY, "bundled", f"the bundled trace {BUNDLED_FILE} is unreadable: {exc}") from exc
    return _parse_csv("bundled", BUNDLED_FILE, text.splitlines())


def _parse_csv(spec: str, filename: str, lines: Iterable[str]) -> _Loaded:
    """``name,v0,v1,...`` lines into names and series."""
    names: list[str] = []
    series: list[tuple[int, ...]] = []
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        name, *fields = line.split(",")
        if not fields:
            raise ConfigError(_KEY, spec, f"{filename} line {number}: VM {name!r} has no values")
        names.append(name)
        series.append(tuple(_percent(spec, filename, number, text) for text in fields))
    if not series:
        raise ConfigError(_KEY, spec, f"{filename} holds no VM series")
    return tuple(names), tuple(series)


def _planetlab_dir(spec: str, folder: Path) -> _Loaded:
    """Every file of a PlanetLab day folder, sorted by name."""
    if not folder.is_dir():
        raise ConfigError(_KEY, spec, f"folder {str(folder)!r} does not exist or is not a directory")
    files = sorted(path for path in folder.iterdir() if path.is_file() and not path.name.startswith("."))
    if not files:
        raise ConfigError(_KEY, spec, f"folder {str(folder)!r} holds no trace files")
    series = tuple(_planetlab_file(spec, path) for path in files)
    return tuple(path.name for path in files), series


def _planetlab_file(spec: str, path: Path) -> tuple[int, ...]:
    """One PlanetLab file: one integer percentage per line (blank lines ignored)."""
    try:
        lines = path.read_text(encoding="ascii").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(_KEY, spec, f"cannot read {path}: {exc}") from exc
    values = tuple(_percent(spec, str(path), n, text) for n, text in enumerate(lines, start=1) if text.strip())
    if not values:
        raise ConfigError(_KEY, spec, f"{path} holds no values")
    return values


def _percent(spec: str, filename: str, number: int, text: str) -> int:
    """One CPU percentage, or a ConfigError naming the file and the line."""
    try:
        value = int(text.strip())
    except ValueError as exc:
        raise ConfigError(_KEY, spec, f"{filename} line {number}: {text.strip()!r} is not an integer "
                          "CPU percentage") from exc
    if not 0 <= value <= 100:
        raise ConfigError(_KEY, spec, f"{filename} line {number}: {value} is outside 0..100")
    return value
