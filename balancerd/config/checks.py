"""Checks a single key's bounds cannot express: across keys, list entries and network addresses.

Called by :func:`balancerd.config.loading.from_table` once the config is built. Every problem raises
:class:`~balancerd.errors.ConfigError` naming the key, the value and what is allowed.
"""

from __future__ import annotations

from pathlib import Path

from balancerd import blackout
from balancerd.cold_windows import parse_window
from balancerd.config.addresses import check_address, check_uri_host
from balancerd.config.rules import RuleConfig
from balancerd.config.schema import Config, HostConfig, PolicyConfig
from balancerd.errors import ConfigError

_HOST_RULES = ("must", "must_not", "should", "should_not")
SOFT_KINDS = ("should", "should_not", "soft_affinity", "soft_anti_affinity")
"""Rule kinds that are preferences (a weighted penalty), not limits: only they take ``weight``."""


def check(config: Config) -> None:
    """Everything below, in the order a reader of the file meets it."""
    _check_rules(config.policy)
    _check_migration(config)
    _check_hosts(config)
    check_address("metrics.address", config.metrics.address)
    _check_control(config)
    _check_ha(config)


def _check_control(config: Config) -> None:
    control = config.control
    if not control.tcp_address:
        return
    check_address("control.tcp_address", control.tcp_address)
    for key in ("tls_cert", "tls_key", "token_file"):
        if not getattr(control, key):
            raise ConfigError(f"control.{key}", "", "a TCP control listener (control.tcp_address) needs TLS "
                              "(tls_cert, tls_key) and a token (token_file); set all three or remove tcp_address")


def _check_ha(config: Config) -> None:
    """Each etcd endpoint a URL with a scheme, host and port; a client certificate comes with its key."""
    ha = config.ha
    for i, url in enumerate(ha.etcd_endpoints):
        scheme, _, rest = url.partition("://")
        host, _, port = rest.rstrip("/").rpartition(":")
        if scheme not in ("http", "https") or not host or not port.isdigit() or not 0 < int(port) < 65536:
            raise ConfigError(f"ha.etcd_endpoints[{i}]", url, "an etcd client URL such as http://10.0.0.5:2379 "
                              "or https://etcd1.example:2379 (scheme http or https, a host, a port)")
    if bool(ha.cert_file) != bool(ha.key_file):
        raise ConfigError("ha.cert_file" if not ha.cert_file else "ha.key_file", "",
                          "a client certificate needs both ha.cert_file and ha.key_file")
    if (ha.ca_file or ha.cert_file) and not any(u.startswith("https://") for u in ha.etcd_endpoints):
        raise ConfigError("ha.etcd_endpoints", list(ha.etcd_endpoints),
                          "ha.ca_file / ha.cert_file are for https:// endpoints; use https:// or remove them")
    for key in ("ca_file", "cert_file", "key_file"):
        value = getattr(ha, key)
        if value and not Path(value).is_file():
            raise ConfigError(f"ha.{key}", value, "a file that exists (PEM); check the path")
    if not ha.prefix.startswith("/") or not ha.prefix.endswith("/"):
        raise ConfigError("ha.prefix", ha.prefix, "a key prefix that starts and ends with '/', e.g. /balancerd/")


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


def check_rules(rules: tuple[RuleConfig, ...], prefix: str) -> None:
    """Placement rules, each named ``prefix[i]`` in an error (``policy.rules``, or a cluster file's rules)."""
    for i, rule in enumerate(rules):
        if not rule.vms:
            raise ConfigError(f"{prefix}[{i}].vms", [], "every rule needs at least one VM name or pattern")
        if rule.kind in _HOST_RULES and not rule.hosts:
            raise ConfigError(f"{prefix}[{i}].hosts", [], f"a '{rule.kind}' rule needs at least one host")
        if (rule.kind == "depends") != bool(rule.on):
            raise ConfigError(f"{prefix}[{i}].on", list(rule.on),
                              "a 'depends' rule needs the VMs it depends on (names or patterns); only it takes 'on'")
        if rule.weight != 1.0 and rule.kind not in SOFT_KINDS:
            raise ConfigError(f"{prefix}[{i}].weight", rule.weight,
                              f"only soft rules ({', '.join(SOFT_KINDS)}) take a weight; a '{rule.kind}' rule "
                              "is a limit: remove 'weight' or make the rule soft")


def _check_rules(policy: PolicyConfig) -> None:
    check_rules(policy.rules, "policy.rules")
    for i, domain in enumerate(policy.domains):
        if not domain.name:
            raise ConfigError(f"policy.domains[{i}].name", domain.name, "every domain needs a non-empty name")
    for i, window in enumerate(policy.blackout):
        try:
            blackout.parse(window.days, window.start, window.end, window.tz, window.allow)
        except ValueError as exc:
            where = f"{window.days} {window.start}-{window.end} {window.tz}"
            raise ConfigError(f"policy.blackout[{i}]", where, str(exc)) from exc


def _check_hosts(config: Config) -> None:
    names = [h.name for h in config.hosts]
    for i, host in enumerate(config.hosts):
        _check_host(config, i, host)
    dupes = sorted({n for n in names if names.count(n) > 1})
    if dupes:
        raise ConfigError("hosts", dupes, "host names must be unique")
    if config.backend == "libvirt" and not config.hosts:
        raise ConfigError("hosts", [], "backend 'libvirt' needs at least one [[hosts]] entry")


def _check_host(config: Config, i: int, host: HostConfig) -> None:
    if not host.name:
        raise ConfigError(f"hosts[{i}].name", host.name, "every host needs a non-empty name")
    if config.backend == "libvirt" and not host.uri:
        raise ConfigError(f"hosts[{i}].uri", host.uri, "a libvirt host needs a URI such as qemu+tcp://h1/system")
    for name in ("uri", "migration_uri", "p2p_uri"):
        check_uri_host(f"hosts[{i}].{name}", getattr(host, name))
