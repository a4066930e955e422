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

from balancerd.cold_windows import parse_window
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


RULE_KINDS = ("anti_affinity", "affinity", "must", "must_not", "should", "should_not", "pin", "exclude", "spread",
              "depends")
"""Placement rule kinds (see RuleConfig)."""


@dataclass(frozen=True, slots=True)
class RuleConfig:
    """One placement rule (``[[policy.rules]]``); ``vms`` and ``hosts`` are names or shell patterns.

    anti_affinity: the VMs run on distinct hosts. affinity: the VMs run on one host. must / must_not: the VMs
    run only on / never on ``hosts``. should / should_not: the same as a soft preference. pin: the VMs stay
    where they are. exclude: balancerd never moves them. spread: the VMs span at least ``min_domains``
    failure domains. depends: every failure domain that runs one of ``vms`` also runs one of ``on`` (a
    dependency between groups within a neighbourhood, e.g. app servers next to a replica of their database).
    """

    kind: str = _opt("anti_affinity", choices=RULE_KINDS)
    name: str = _opt("")
    vms: tuple[str, ...] = _opt(())
    hosts: tuple[str, ...] = _opt(())
    min_domains: int = _opt(2, lo=1, hi=1000)
    on: tuple[str, ...] = _opt(())


@dataclass(frozen=True, slots=True)
class DomainConfig:
    """A failure domain (``[[policy.domains]]``): its name and its hosts (names or shell patterns)."""

    name: str = _opt("")
    hosts: tuple[str, ...] = _opt(())


@dataclass(frozen=True, slots=True)
class PolicyConfig:
    """What the optimizer aims for and how far it may go in one cycle."""

    strategy: str = _opt("balance", choices=("balance", "consolidate", "drain"))
    headroom_pct: int = _opt(10, lo=0, hi=90)
    imbalance_threshold_pct: int = _opt(10, lo=0, hi=100)
    max_moves_per_cycle: int = _opt(10, lo=0, hi=100_000)
    min_gain: float = _opt(0.01, lo=0.0)
    cooldown_s: int = _opt(1800, lo=0)
    plan_ttl_s: float = _opt(900.0, lo=1.0)
    migration_bandwidth_mib_s: int = _opt(1_000, lo=1)
    cross_domain_cost: float = _opt(1.0, lo=1.0, hi=100.0)
    soft_rule_weight: float = _opt(0.05, lo=0.0)
    consolidate_target_pct: int = _opt(80, lo=10, hi=100)
    rules: tuple[RuleConfig, ...] = _opt(())
    domains: tuple[DomainConfig, ...] = _opt(())


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
class MigrationConfig:
    """How each migration converges, when cold moves may happen, and which disks count as shared (issue 6).

    Per-VM overrides come from the domain's ``<balancerd:policy .../>`` metadata (see config/balancerd.toml).
    """

    downtime_schedule_ms: tuple[int, ...] = _opt((100, 200, 300, 500))
    stall_iterations: int = _opt(3, lo=1, hi=1000)
    auto_converge: bool = _opt(True)
    auto_converge_initial_pct: int = _opt(20, lo=1, hi=99)
    auto_converge_increment_pct: int = _opt(10, lo=1, hi=99)
    postcopy: bool = _opt(False)
    deadline_factor: float = _opt(3.0, lo=1.0, hi=100.0)
    deadline_min_s: float = _opt(30.0, lo=0.1)
    downtime_tolerance_ms: int = _opt(0, lo=0, hi=3_600_000)
    cold_in_window: bool = _opt(False)
    maintenance_windows: tuple[str, ...] = _opt(())
    cold_shutdown_timeout_s: float = _opt(60.0, lo=0.1, hi=3600.0)
    shared_paths: tuple[str, ...] = _opt(())
    dirty_rate_calc_s: int = _opt(1, lo=0, hi=60)
    link_mib_s: int = _opt(1000, lo=1)


@dataclass(frozen=True, slots=True)
class NetworkMapConfig:
    """One ``[[network_map]]`` row: guests on ``source`` (network or bridge) use ``dest`` on ``hosts``."""

    source: str = _opt("")
    dest: str = _opt("")
    hosts: tuple[str, ...] = _opt(("*",))


@dataclass(frozen=True, slots=True)
class PredictConfig:
    """How load is predicted from history.

    ``model`` is the pooled scikit-learn forecaster, retrained every ``retrain_interval_s`` in the background;
    VMs with fewer than ``min_history`` samples (and every VM before the first training) fall back to EWMA.
    """

    method: str = _opt("model", choices=("last", "ewma", "model"))
    alpha: float = _opt(0.5, lo=0.01, hi=1.0)
    history: int = _opt(288, lo=1, hi=100_000)
    horizon_s: int = _opt(600, lo=1, hi=86_400)
    upper_quantile: float = _opt(0.95, lo=0.5, hi=0.999)
    retrain_interval_s: float = _opt(3600.0, lo=1.0)
    min_history: int = _opt(12, lo=2, hi=100_000)
    max_train_rows: int = _opt(100_000, lo=1_000, hi=10_000_000)


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
    migration: MigrationConfig = _opt(MigrationConfig())
    network_map: tuple[NetworkMapConfig, ...] = _opt(())
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
        if item_cls is str:
            return _strings(value, key)
        if item_cls is int:
            return _integers(value, key)
        if not isinstance(value, list):
            raise ConfigError(key, value, "expected an array of tables ([[" + key + "]])")
        return tuple(_build(item_cls, item, f"{key}[{i}].", base) for i, item in enumerate(value))
    return _scalar(hint, spec.metadata, value, key, base)


def _strings(value: object, key: str) -> tuple[str, ...]:
    if not isinstance(value, list) or not all(isinstance(item, str) and item for item in value):
        raise ConfigError(key, value, "expected an array of non-empty strings")
    return tuple(value)


def _integers(value: object, key: str) -> tuple[int, ...]:
    if not isinstance(value, list) or not all(isinstance(i, int) and not isinstance(i, bool) and i > 0
                                              for i in value):
        raise ConfigError(key, value, "expected an array of positive integers")
    return tuple(value)


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


def _check_migration(config: Config) -> None:
    if not config.migration.downtime_schedule_ms:
        raise ConfigError("migration.downtime_schedule_ms", [], "expected at least one downtime in ms")
    for i, window in enumerate(config.migration.maintenance_windows):
        try:
            parse_window(window)
        except ValueError as exc:
            raise ConfigError(f"migration.maintenance_windows[{i}]", window, str(exc)) from exc
    for i, row in enumerate(config.network_map):
        if not row.source or not row.dest:
            raise ConfigError(f"network_map[{i}]", f"{row.source!r} -> {row.dest!r}",
                              "source and dest must both name a network or bridge")


_HOST_RULES = ("must", "must_not", "should", "should_not")


def _check_rules(policy: PolicyConfig) -> None:
    for i, rule in enumerate(policy.rules):
        if not rule.vms:
            raise ConfigError(f"policy.rules[{i}].vms", [], "every rule needs at least one VM name or pattern")
        if rule.kind in _HOST_RULES and not rule.hosts:
            raise ConfigError(f"policy.rules[{i}].hosts", [], f"a '{rule.kind}' rule needs at least one host")
        if (rule.kind == "depends") != bool(rule.on):
            raise ConfigError(f"policy.rules[{i}].on", list(rule.on),
                              "a 'depends' rule needs the VMs it depends on (names or patterns); only it takes 'on'")
    for i, domain in enumerate(policy.domains):
        if not domain.name:
            raise ConfigError(f"policy.domains[{i}].name", domain.name, "every domain needs a non-empty name")


def _check_cross(config: Config) -> None:
    _check_rules(config.policy)
    _check_migration(config)
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

