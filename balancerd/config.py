"""TOML configuration into frozen, validated values.

Called by the CLI (``balancerd run|plan``, ``balancerctl``) and by the daemon on SIGHUP. Every problem
raises :class:`~balancerd.errors.ConfigError` naming the key, the value and what is allowed, so the caller
can exit with code 78 before anything starts half-configured. Relative paths are resolved against the
directory of the config file. The documented defaults live in ``config/balancerd.toml``.
"""

from __future__ import annotations

import dataclasses
import tomllib
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from balancerd.errors import ConfigError

DEFAULT_CONFIG_PATH = Path("/etc/balancerd/balancerd.toml")

_T = TypeVar("_T")


def _opt(default: Any, *, lo: float | None = None, hi: float | None = None,
         choices: tuple[str, ...] | None = None, path: bool = False) -> Any:
    """A config field with its default and what values are allowed."""
    meta = {"lo": lo, "hi": hi, "choices": choices, "path": path}
    return field(default=default, metadata=meta)


@dataclass(frozen=True, slots=True)
class HostConfig:
    """One hypervisor: its name, libvirt URI, optional p2p / migration URIs and capacity overrides.

    ``p2p_uri`` is the URI the SOURCE daemon uses to reach this host in a peer-to-peer migration (empty:
    the same as ``uri``).
    """

    name: str = _opt("")
    uri: str = _opt("")
    migration_uri: str = _opt("")
    p2p_uri: str = _opt("")
    cpu_m: int = _opt(0, lo=0)
    mem_mib: int = _opt(0, lo=0)


@dataclass(frozen=True, slots=True)
class SimConfig:
    """The simulated cluster (backend = "sim")."""

    hosts: int = _opt(20, lo=1, hi=100_000)
    vms: int = _opt(400, lo=0, hi=1_000_000)
    host_cpu_m: int = _opt(32_000, lo=1)
    host_mem_mib: int = _opt(131_072, lo=1)
    trace: str = _opt("bundled")
    trace_step_s: int = _opt(300, lo=1)
    bandwidth_mib_s: int = _opt(1_000, lo=1)
    seed: int = _opt(1, lo=0)
    speed: float = _opt(1.0, lo=0.001, hi=1_000_000.0)
    skew: float = _opt(0.0, lo=0.0, hi=1.0)


@dataclass(frozen=True, slots=True)
class PolicyConfig:
    """What the optimizer aims for and how far it may go in one cycle."""

    strategy: str = _opt("balance", choices=("balance",))
    headroom_pct: int = _opt(10, lo=0, hi=90)
    imbalance_threshold_pct: int = _opt(10, lo=0, hi=100)
    max_moves_per_cycle: int = _opt(10, lo=0, hi=100_000)
    min_gain: float = _opt(0.01, lo=0.0)
    cooldown_s: int = _opt(1800, lo=0)
    plan_ttl_s: float = _opt(900.0, lo=1.0)


@dataclass(frozen=True, slots=True)
class CollectConfig:
    """How host load is derived from what the hypervisors report."""

    node_overhead: bool = _opt(True)


@dataclass(frozen=True, slots=True)
class ThrottleConfig:
    """Limits of the executor: slots per host and cluster, bandwidth, deadline, hourly budget."""

    per_host_in: int = _opt(1, lo=1, hi=64)
    per_host_out: int = _opt(1, lo=1, hi=64)
    cluster_max: int = _opt(4, lo=1, hi=1024)
    bandwidth_mib_s: int = _opt(0, lo=0)
    max_downtime_ms: int = _opt(300, lo=1, hi=60_000)
    deadline_s: float = _opt(600.0, lo=0.1)
    poll_interval_s: float = _opt(0.5, lo=0.01, hi=60.0)
    migrations_per_hour: int = _opt(120, lo=1)
    allow_unsafe: bool = _opt(False)


@dataclass(frozen=True, slots=True)
class PredictConfig:
    """How load is predicted from history."""

    method: str = _opt("ewma", choices=("last", "ewma"))
    alpha: float = _opt(0.5, lo=0.01, hi=1.0)
    history: int = _opt(288, lo=1, hi=100_000)


@dataclass(frozen=True, slots=True)
class PathsConfig:
    """Where state lives."""

    maintenance_file: Path = _opt(Path("/var/lib/balancerd/maintenance"), path=True)
    journal: Path = _opt(Path("/var/lib/balancerd/journal.sqlite"), path=True)
    pid_file: Path = _opt(Path("/run/balancerd/balancerd.pid"), path=True)
    status_file: Path = _opt(Path("/run/balancerd/status.json"), path=True)


@dataclass(frozen=True, slots=True)
class MetricsConfig:
    """The Prometheus endpoint."""

    enabled: bool = _opt(True)
    address: str = _opt("127.0.0.1")
    port: int = _opt(9177, lo=0, hi=65535)


@dataclass(frozen=True, slots=True)
class LoggingConfig:
    """structlog output."""

    level: str = _opt("info", choices=("debug", "info", "warning", "error"))
    format: str = _opt("auto", choices=("auto", "json", "console"))


@dataclass(frozen=True, slots=True)
class Config:
    """The whole configuration of one daemon."""

    mode: str = _opt("recommend", choices=("recommend", "enforce"))
    interval_s: float = _opt(60.0, lo=0.01, hi=86_400.0)
    backend: str = _opt("sim", choices=("sim", "libvirt"))
    hosts: tuple[HostConfig, ...] = _opt(())
    sim: SimConfig = _opt(SimConfig())
    policy: PolicyConfig = _opt(PolicyConfig())
    throttle: ThrottleConfig = _opt(ThrottleConfig())
    predict: PredictConfig = _opt(PredictConfig())
    collect: CollectConfig = _opt(CollectConfig())
    paths: PathsConfig = _opt(PathsConfig())
    metrics: MetricsConfig = _opt(MetricsConfig())
    logging: LoggingConfig = _opt(LoggingConfig())
    source: Path = field(default=Path("<defaults>"), metadata={"internal": True})


def load(path: Path) -> Config:
    """Read and validate ``path``; raise ConfigError on anything wrong."""
    try:
        raw = path.read_bytes()
    except OSError as exc:
        allowed = f"the config file must exist and be readable ({exc.strerror})"
        raise ConfigError("<file>", str(path), allowed) from exc
    try:
        table = tomllib.loads(raw.decode("utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError("<file>", str(path), f"the file must be valid UTF-8 TOML: {exc}") from exc
    return from_table(table, base=path.resolve().parent, source=path)


def from_table(table: dict[str, Any], base: Path, source: Path = Path("<table>")) -> Config:
    """Build a Config from an already parsed TOML table."""
    config = _build(Config, table, "", base)
    config = dataclasses.replace(config, source=source)
    _check_cross(config)
    return config


def _build(cls: type[_T], table: object, prefix: str, base: Path) -> _T:
    if not isinstance(table, dict):
        raise ConfigError(prefix.rstrip(".") or "<root>", table, "expected a table")
    fields = {f.name: f for f in dataclasses.fields(cls) if not f.metadata.get("internal")}  # type: ignore[arg-type]
    hints = typing.get_type_hints(cls)
    values: dict[str, Any] = {}
    for key, value in table.items():
        if key not in fields:
            allowed = f"unknown key; allowed keys here: {', '.join(sorted(fields))}"
            raise ConfigError(prefix + key, value, allowed)
        values[key] = _convert(hints[key], fields[key], value, prefix + key, base)
    return cls(**values)


def _convert(hint: Any, spec: dataclasses.Field[Any], value: object, key: str, base: Path) -> Any:
    if isinstance(hint, type) and dataclasses.is_dataclass(hint):
        return _build(hint, value, key + ".", base)
    if typing.get_origin(hint) is tuple:
        item_cls = typing.get_args(hint)[0]
        if not isinstance(value, list):
            raise ConfigError(key, value, "expected an array of tables ([[" + key + "]])")
        return tuple(_build(item_cls, item, f"{key}[{i}].", base) for i, item in enumerate(value))
    return _scalar(hint, spec.metadata, value, key, base)


def _scalar(hint: Any, meta: Any, value: object, key: str, base: Path) -> Any:
    if hint is bool:
        if not isinstance(value, bool):
            raise ConfigError(key, value, "expected true or false")
        return value
    if hint is int or hint is float:
        return _number(hint, meta, value, key)
    if hint is Path:
        if not isinstance(value, str) or not value:
            raise ConfigError(key, value, "expected a non-empty path string")
        path = Path(value)
        return path if path.is_absolute() else (base / path)
    if hint is str:
        if not isinstance(value, str):
            raise ConfigError(key, value, "expected a string")
        choices = meta.get("choices")
        if choices and value not in choices:
            raise ConfigError(key, value, f"allowed values: {', '.join(choices)}")
        return value
    raise ConfigError(key, value, f"unsupported type {hint!r}")  # pragma: no cover


def _number(hint: type, meta: Any, value: object, key: str) -> int | float:
    ok = isinstance(value, int) and not isinstance(value, bool)
    if hint is float:
        ok = ok or isinstance(value, float)
    if not ok:
        raise ConfigError(key, value, "expected an integer" if hint is int else "expected a number")
    number = hint(value)
    lo, hi = meta.get("lo"), meta.get("hi")
    if (lo is not None and number < lo) or (hi is not None and number > hi):
        raise ConfigError(key, value, f"allowed range: {_fmt(lo)} to {_fmt(hi)}")
    return number  # type: ignore[no-any-return]


def _fmt(bound: float | None) -> str:
    return "unbounded" if bound is None else f"{bound:g}"


def _check_cross(config: Config) -> None:
    names = [h.name for h in config.hosts]
    for i, host in enumerate(config.hosts):
        if not host.name:
            raise ConfigError(f"hosts[{i}].name", host.name, "every host needs a non-empty name")
        if config.backend == "libvirt" and not host.uri:
            raise ConfigError(f"hosts[{i}].uri", host.uri, "a libvirt host needs a URI such as qemu+tcp://h1/system")
    dupes = sorted({n for n in names if names.count(n) > 1})
    if dupes:
        raise ConfigError("hosts", dupes, "host names must be unique")
    if config.backend == "libvirt" and not config.hosts:
        raise ConfigError("hosts", [], "backend 'libvirt' needs at least one [[hosts]] entry")

