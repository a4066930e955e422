"""TOML configuration into frozen, validated values: ``balancerd.config`` is the one import path.

Called by the CLI (``balancerd run|plan|simulate``, ``balancerctl``), by the daemon on SIGHUP and by every
module that takes a config value. Every problem raises :class:`~balancerd.errors.ConfigError` naming the
key, the value and what is allowed, so the caller can exit with code 78 before anything starts
half-configured. The shape lives in :mod:`~balancerd.config.schema` (with :mod:`~balancerd.config.rules`,
:mod:`~balancerd.config.simulated`, :mod:`~balancerd.config.networks`, fields declared by
:mod:`~balancerd.config.fields`), reading a file in
:mod:`~balancerd.config.loading`, checks across keys in :mod:`~balancerd.config.checks` and
:mod:`~balancerd.config.addresses`, keys of older releases in :mod:`~balancerd.config.removed`, a described
cluster file (``[sim] cluster``) in :mod:`~balancerd.config.cluster`.
"""

from __future__ import annotations

from balancerd.config.loading import from_table, load
from balancerd.config.networks import NetworkMapConfig, foreign_network, network_pairs
from balancerd.config.rules import RULE_KINDS, BlackoutConfig, DomainConfig, RuleConfig
from balancerd.config.schema import (
    DEFAULT_CONFIG_PATH,
    DEFAULT_LINK_MIB_S,
    CollectConfig,
    Config,
    HaConfig,
    HostConfig,
    ImportsConfig,
    LoggingConfig,
    MaintenanceConfig,
    MetricsConfig,
    MigrationConfig,
    OptimizerConfig,
    PathsConfig,
    PolicyConfig,
    PredictConfig,
    ThrottleConfig,
    migration_speed,
)
from balancerd.config.simulated import ClusterFile, ClusterHostConfig, ClusterVmConfig, SimConfig

__all__ = [
    "DEFAULT_CONFIG_PATH",
    "DEFAULT_LINK_MIB_S",
    "RULE_KINDS",
    "BlackoutConfig",
    "ClusterFile",
    "ClusterHostConfig",
    "ClusterVmConfig",
    "CollectConfig",
    "Config",
    "DomainConfig",
    "HaConfig",
    "HostConfig",
    "ImportsConfig",
    "LoggingConfig",
    "MaintenanceConfig",
    "MetricsConfig",
    "MigrationConfig",
    "NetworkMapConfig",
    "OptimizerConfig",
    "PathsConfig",
    "PolicyConfig",
    "PredictConfig",
    "RuleConfig",
    "SimConfig",
    "ThrottleConfig",
    "foreign_network",
    "from_table",
    "load",
    "migration_speed",
    "network_pairs",
]
