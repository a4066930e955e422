"""A described cluster file (``[sim] cluster``) into a validated :class:`~balancerd.config.simulated.ClusterFile`.

Called by :func:`balancerd.config.loading.from_table` when a config with ``backend = "sim"`` sets ``[sim]
cluster``, so that ``balancerd plan`` / ``run`` answer "what would it do on this cluster" without a random
draw. The file is read when the config loads (a bad file is a config error, exit 78, and a reload keeps the
old config); :mod:`balancerd.backends.sim.described` turns the result into simulated hosts and VMs. Every
entry is built by the config loader's own converter, so types, bounds and unknown keys are refused the same
way; the checks here look across entries (names, hosts, pools, resources). Errors name the file, the entry
(index and name) and the key. The file's ``[[rules]]`` are checked like ``[[policy.rules]]`` and appended to
them.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from pathlib import Path
from typing import Any, TypeVar

from balancerd.config.checks import check_rules
from balancerd.config.loading import build, read_toml
from balancerd.config.rules import RuleConfig
from balancerd.config.schema import Config
from balancerd.config.simulated import SEEDED_SIM_KEYS, ClusterFile, ClusterHostConfig, ClusterVmConfig
from balancerd.errors import ConfigError

_KEY = "sim.cluster"
_TOP_KEYS = ("hosts", "vms", "rules")
_RESERVED = ("cpu_m", "mem_mib")
"""Names the planner's resource vector gives to CPU and memory: no named resource may take them."""
_T = TypeVar("_T")


def apply(config: Config, sim_table: Mapping[str, Any]) -> Config:
    """``config`` with its described cluster read and its rules appended to ``policy.rules``."""
    path = config.sim.cluster
    if path is None:
        return config
    for key in SEEDED_SIM_KEYS:
        if key in sim_table:
            raise ConfigError(f"sim.{key}", sim_table[key], f"not used with sim.cluster ({path} describes the hosts "
                              f"and VMs); remove sim.{key} or sim.cluster")
    described = read(path)
    policy = dataclasses.replace(config.policy, rules=config.policy.rules + described.rules)
    return dataclasses.replace(config, sim=dataclasses.replace(config.sim, described=described), policy=policy)


def read(path: Path) -> ClusterFile:
    """The cluster described in ``path``; ConfigError naming the file, the entry and the key."""
    table = read_toml(path, _KEY, "cluster file (sim.cluster)")
    where = f"{path}: "
    for key, value in table.items():
        if key not in _TOP_KEYS:
            raise ConfigError(where + key, value, f"unknown key; a cluster file holds {', '.join(_TOP_KEYS)} "
                              "([[hosts]], [[vms]], [[rules]])")
    base = path.resolve().parent
    described = ClusterFile(
        hosts=_entries(ClusterHostConfig, table, "hosts", where, base),
        vms=_entries(ClusterVmConfig, table, "vms", where, base),
        rules=_entries(RuleConfig, table, "rules", where, base),
        source=path,
    )
    _check(described, where)
    return described


def _entries(cls: type[_T], table: Mapping[str, Any], key: str, where: str, base: Path) -> tuple[_T, ...]:
    """Every ``[[key]]`` table as a ``cls``, each named in errors by its index and, when it has one, its name."""
    items = table.get(key, [])
    if not isinstance(items, list):
        raise ConfigError(where + key, items, f"expected an array of tables ([[{key}]])")
    return tuple(build(cls, item, _label(where, key, i, item), base) for i, item in enumerate(items))


def _label(where: str, key: str, index: int, item: object) -> str:
    name = item.get("name") if isinstance(item, dict) else None
    return f"{where}{key}[{index}]" + (f" ({name})" if isinstance(name, str) and name else "") + "."


def _check(described: ClusterFile, where: str) -> None:
    if not described.hosts:
        raise ConfigError(where + "hosts", [], "a cluster file needs at least one [[hosts]] entry")
    _unique([h.name for h in described.hosts], "hosts", where)
    _unique([vm.name for vm in described.vms], "vms", where)
    hosts = {h.name: h for h in described.hosts}
    for i, host in enumerate(described.hosts):
        for name, _ in host.resources:
            _check_resource_name(f"{where}hosts[{i}] ({host.name}).resources.{name}", name)
    for i, vm in enumerate(described.vms):
        _check_vm(vm, hosts, f"{where}vms[{i}] ({vm.name}).")
    check_rules(described.rules, where + "rules")


def _unique(names: list[str], key: str, where: str) -> None:
    """ConfigError on an empty or repeated name among the ``[[key]]`` entries."""
    seen: dict[str, int] = {}
    for i, name in enumerate(names):
        label = f"{where}{key}[{i}].name"
        if not name:
            raise ConfigError(label, name, "every entry needs a non-empty name")
        if name in seen:
            raise ConfigError(label, name, f"names must be unique; {key}[{seen[name]}] has it too: rename one of them")
        seen[name] = i


def _check_vm(vm: ClusterVmConfig, hosts: Mapping[str, ClusterHostConfig], label: str) -> None:
    host = hosts.get(vm.host)
    if host is None:
        raise ConfigError(label + "host", vm.host, f"no [[hosts]] entry has this name (hosts: {', '.join(hosts)}); "
                          "fix the name or add the host")
    pools = dict(host.pools)
    for pool, _ in vm.disks:
        if pool not in pools:
            raise ConfigError(f"{label}disks.{pool}", pool, f"host {host.name} has no pool {pool!r} (its pools: "
                              f"{', '.join(pools) or 'none'}); add it to the host's pools or fix the name")
    resources = dict(host.resources)
    for name, _ in vm.resources:
        _check_resource_name(f"{label}resources.{name}", name)
        if name not in resources:
            raise ConfigError(f"{label}resources.{name}", name, f"host {host.name} has no resource {name!r} (its "
                              f"resources: {', '.join(resources) or 'none'}); add it to the host's resources")


def _check_resource_name(key: str, name: str) -> None:
    if name in _RESERVED or ":" in name:
        raise ConfigError(key, name, "a named resource may not be cpu_m or mem_mib nor contain ':' (storage pools "
                          "go under pools and disks)")
