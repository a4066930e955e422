"""The configuration's shape: one frozen dataclass per TOML table, each field with its default and bounds.

Read by :mod:`balancerd.config.loading` (which builds these from a parsed file, field by field, from the
:func:`~balancerd.config.fields.opt` metadata) and by everything that takes a config value. ``[policy]``'s
rules, domains and blackout windows live in :mod:`~balancerd.config.rules`, ``[sim]`` and a described cluster in
:mod:`~balancerd.config.simulated`, ``[[network_map]]`` in :mod:`~balancerd.config.networks`. The documented
defaults live in ``config/balancerd.toml``; :func:`migration_speed` is the one rule for how fast a migration
goes.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from balancerd.config.fields import opt
from balancerd.config.networks import NetworkMapConfig
from balancerd.config.rules import BlackoutConfig, DomainConfig, RuleConfig
from balancerd.config.simulated import SimConfig

DEFAULT_CONFIG_PATH = Path("/etc/balancerd/balancerd.toml")
DEFAULT_LINK_MIB_S = 1000
"""``[migration] link_mib_s`` when not set (roughly what a 10 Gbit/s link carries)."""


@dataclass(frozen=True, slots=True)
class HostConfig:
    """One hypervisor: its name, libvirt URI, optional p2p / migration URIs and capacity overrides.

    ``p2p_uri`` is the URI the SOURCE daemon uses to reach this host in a peer-to-peer migration (empty:
    the same as ``uri``).
    """

    name: str = opt("")
    uri: str = opt("")
    migration_uri: str = opt("")
    p2p_uri: str = opt("")
    cpu_m: int = opt(0, lo=0)
    mem_mib: int = opt(0, lo=0)
    cpu_group: str = opt("")
    """CPU compatibility group for the planner ("": the host's CPU model as libvirt reports it)."""


@dataclass(frozen=True, slots=True)
class PolicyConfig:
    """What the optimizer aims for and how far it may go in one cycle."""

    strategy: str = opt("balance", choices=("balance", "consolidate", "drain"))
    headroom_pct: int = opt(10, lo=0, hi=90)
    imbalance_threshold_pct: int = opt(10, lo=0, hi=100)
    max_moves_per_cycle: int = opt(10, lo=0, hi=100_000)
    min_gain: float = opt(0.01, lo=0.0)
    cooldown_s: int = opt(1800, lo=0)
    plan_ttl_s: float = opt(900.0, lo=1.0)
    cross_domain_cost: float = opt(1.0, lo=1.0, hi=100.0)
    soft_rule_weight: float = opt(0.05, lo=0.0)
    consolidate_target_pct: int = opt(80, lo=10, hi=100)
    max_failures: int = opt(3, lo=1, hi=1000)
    """Failures of one VM towards one host after which that pair stays blocked until ``balancerctl release``."""
    failure_backoff_s: float = opt(300.0, lo=0.0, hi=86_400.0)
    """Back-off after a VM's first failure towards a host; it doubles with every further failure there."""
    max_moves_per_vm_per_day: int = opt(0, lo=0, hi=10_000)
    """Moves balancing may make of one VM in any 24 hours (0 = no cap); drains, restores and repairs are exempt but
    count."""
    external_moves_backoff: int = opt(5, lo=0, hi=100_000)
    """More external moves (VMs moved by another tool or a person) than this in an hour make balancing back off
    (0 = never)."""
    external_backoff_s: float = opt(3600.0, lo=0.0, hi=7 * 86_400.0)
    """How long balancing backs off after too many external moves."""
    rules: tuple[RuleConfig, ...] = opt(())
    domains: tuple[DomainConfig, ...] = opt(())
    blackout: tuple[BlackoutConfig, ...] = opt(())


@dataclass(frozen=True, slots=True)
class OptimizerConfig:
    """How long the optimizer may improve a cycle's plan after construction (``[optimizer]``)."""

    time_budget_s: float = opt(2.0, lo=0.0, hi=600.0)
    """Seconds the engine's search may improve the balance strategy's target state (0 = construction only);
    at most a quarter of ``interval_s`` is used, so that planning never takes the cycle."""


@dataclass(frozen=True, slots=True)
class CollectConfig:
    """How host load is derived from what the hypervisors report."""

    node_overhead: bool = opt(True)
    workers: int = opt(0, lo=0, hi=1024)
    """Hosts collected at once; 0 = min(32, hosts)."""
    host_timeout_s: float = opt(5.0, lo=0.1, hi=600.0)
    """Time one host has for its whole collection; a host that misses it is unreachable for the cycle."""

    def worker_count(self, hosts: int) -> int:
        """How many collection workers run for ``hosts`` hosts."""
        return max(1, min(self.workers or 32, hosts))


@dataclass(frozen=True, slots=True)
class ThrottleConfig:
    """Limits of the executor: slots per host and cluster, deadline, hourly budget, polling."""

    per_host_in: int = opt(1, lo=1, hi=64)
    per_host_out: int = opt(1, lo=1, hi=64)
    cluster_max: int = opt(4, lo=1, hi=1024)
    deadline_s: float = opt(600.0, lo=0.1)
    poll_interval_s: float = opt(0.5, lo=0.01, hi=60.0)
    migrations_per_hour: int = opt(120, lo=1)
    allow_unsafe: bool = opt(False)


def migration_speed(link_mib_s: int, cap_mib_s: int) -> int:
    """The speed a migration really gets on a ``link_mib_s`` link under a cap (0 = none): the lower of the two.

    The one place that says it: the optimizer's migration cost, the executor's estimates and the simulated
    backend's transfers all call it.
    """
    return min(cap_mib_s, link_mib_s) if cap_mib_s > 0 else link_mib_s


@dataclass(frozen=True, slots=True)
class MigrationConfig:
    """How each migration converges, when cold moves may happen, and which disks count as shared (issue 6).

    Per-VM overrides come from the domain's ``<balancerd:policy .../>`` metadata (see config/balancerd.toml).
    """

    downtime_schedule_ms: tuple[int, ...] = opt((100, 200, 300, 500))
    stall_iterations: int = opt(3, lo=1, hi=1000)
    auto_converge: bool = opt(True)
    auto_converge_initial_pct: int = opt(20, lo=1, hi=99)
    auto_converge_increment_pct: int = opt(10, lo=1, hi=99)
    postcopy: bool = opt(False)
    deadline_factor: float = opt(3.0, lo=1.0, hi=100.0)
    deadline_min_s: float = opt(30.0, lo=0.1)
    downtime_tolerance_ms: int = opt(0, lo=0, hi=3_600_000)
    cold_in_window: bool = opt(False)
    maintenance_windows: tuple[str, ...] = opt(())
    cold_shutdown_timeout_s: float = opt(60.0, lo=0.1, hi=3600.0)
    shared_paths: tuple[str, ...] = opt(())
    dirty_rate_calc_s: int = opt(1, lo=0, hi=60)
    link_mib_s: int = opt(DEFAULT_LINK_MIB_S, lo=1)
    """The physical migration link (also the simulated backend's transfer speed)."""
    bandwidth_mib_s: int = opt(0, lo=0)
    """The operator's cap on every migration, handed to the hypervisor; 0 = no cap."""

    def speed_mib_s(self, vm_cap_mib_s: int | None = None) -> int:
        """The speed a migration really gets: its cap (the VM's own, else ours) within the link."""
        return migration_speed(self.link_mib_s, vm_cap_mib_s or self.bandwidth_mib_s)


@dataclass(frozen=True, slots=True)
class PredictConfig:
    """How load is predicted from history.

    ``model`` is the pooled scikit-learn forecaster, retrained every ``retrain_interval_s`` in the background;
    VMs with fewer than ``min_history`` samples (and every VM before the first training) fall back to EWMA.
    """

    method: str = opt("model", choices=("last", "ewma", "model"))
    alpha: float = opt(0.5, lo=0.01, hi=1.0)
    history: int = opt(288, lo=1, hi=100_000)
    horizon_s: int = opt(600, lo=1, hi=86_400)
    upper_quantile: float = opt(0.95, lo=0.5, hi=0.999)
    retrain_interval_s: float = opt(3600.0, lo=1.0)
    min_history: int = opt(12, lo=2, hi=100_000)
    max_train_rows: int = opt(100_000, lo=1_000, hi=10_000_000)


@dataclass(frozen=True, slots=True)
class MaintenanceConfig:
    """What leaving maintenance does (``[maintenance]``)."""

    restore: bool = opt(False)
    """Bring the VMs drained off a host back when it leaves maintenance (``maintenance exit --restore`` asks
    for it once)."""


@dataclass(frozen=True, slots=True)
class PathsConfig:
    """Where state lives."""

    maintenance_file: Path = opt(Path("/var/lib/balancerd/maintenance"), path=True)
    journal: Path = opt(Path("/var/lib/balancerd/journal.sqlite"), path=True)
    pid_file: Path = opt(Path("/run/balancerd/balancerd.pid"), path=True)
    status_file: Path = opt(Path("/run/balancerd/status.json"), path=True)


@dataclass(frozen=True, slots=True)
class ControlConfig:
    """The control API (``balancerctl`` talks to it) and the kill switches.

    The Unix socket is always served; a TCP listener only when ``tcp_address`` is set, and then it needs TLS
    (``tls_cert``, ``tls_key``) and a bearer token (``token_file``). ``pause_file``: while it exists no new
    migration starts. ``pause_state`` keeps a pause made through the API across restarts.
    """

    socket: Path = opt(Path("/run/balancerd/control.sock"), path=True)
    group: str = opt("")
    """Group owning the socket (mode 0660); empty = root's group."""
    pause_file: Path = opt(Path("/var/lib/balancerd/pause"), path=True)
    pause_state: Path = opt(Path("/var/lib/balancerd/paused.json"), path=True)
    tcp_address: str = opt("")
    tcp_port: int = opt(9178, lo=1, hi=65535)
    tls_cert: str = opt("")
    tls_key: str = opt("")
    token_file: str = opt("")


@dataclass(frozen=True, slots=True)
class MetricsConfig:
    """The Prometheus endpoint."""

    enabled: bool = opt(True)
    address: str = opt("127.0.0.1")
    port: int = opt(9177, lo=0, hi=65535)


@dataclass(frozen=True, slots=True)
class LoggingConfig:
    """structlog output."""

    level: str = opt("info", choices=("debug", "info", "warning", "error"))
    format: str = opt("auto", choices=("auto", "json", "console"))


@dataclass(frozen=True, slots=True)
class ImportsConfig:
    """``balancerd import``: where converted disks go and how imported guests are defined (``[imports]``)."""

    pool: str = opt("")
    """The storage pool disks are uploaded into; "" = the destination's active pool with the most free space."""
    disk_format: str = opt("qcow2", choices=("qcow2", "raw"))
    domain_type: str = opt("kvm", choices=("kvm", "qemu"))
    """libvirt domain type of imported guests: "kvm", or "qemu" (TCG) where there is no usable KVM."""
    work_dir: Path = opt(Path("/var/tmp/balancerd-import"), path=True)
    """Scratch space on this machine: an OVA unpacked, each disk converted before its upload."""
    serial_log_dir: Path | None = opt(None, path=True)
    """Imported guests write their serial console to ``DIR/NAME.log`` (a path every host sees); None = a pty."""
    converter: str = opt("qemu-img", choices=("qemu-img", "virt-v2v"))
    """"qemu-img": disks copied, the guest unchanged; "virt-v2v": the guest made ready for KVM (``--converter``)."""


@dataclass(frozen=True, slots=True)
class HaConfig:
    """Two or more cluster heads on etcd (``[ha]``): every head collects and plans, the lease holder moves VMs.

    Without ``etcd_endpoints`` the daemon is a single head and needs no etcd (:mod:`balancerd.ha`).
    """

    etcd_endpoints: tuple[str, ...] = opt(())
    """``http://HOST:PORT`` or ``https://HOST:PORT`` of every etcd member; tried in order, the last good one first."""
    name: str = opt("")
    """This head's name in the election and in the journal; "" = the hostname."""
    lease_ttl_s: int = opt(10, lo=2, hi=300)
    """How long a leader that stopped answering stays leader; a takeover takes this plus one cycle."""
    prefix: str = opt("/balancerd/")
    """Where in etcd this cluster's keys live (two clusters on one etcd use two prefixes)."""
    request_timeout_s: float = opt(2.0, lo=0.1, hi=60.0)
    """How long one request to one etcd member may take before the next member is tried."""
    ca_file: str = opt("")
    """CA bundle that signed the etcd members' certificates (https); "" = the system's trust store."""
    cert_file: str = opt("")
    """Client certificate, for etcd members that require one (``--client-cert-auth``); with ``key_file``."""
    key_file: str = opt("")

    @property
    def enabled(self) -> bool:
        return bool(self.etcd_endpoints)


@dataclass(frozen=True, slots=True)
class Config:
    """The whole configuration of one daemon."""

    mode: str = opt("recommend", choices=("recommend", "enforce"))
    interval_s: float = opt(60.0, lo=0.01, hi=86_400.0)
    backend: str = opt("sim", choices=("sim", "libvirt"))
    hosts: tuple[HostConfig, ...] = opt(())
    sim: SimConfig = opt(SimConfig())
    policy: PolicyConfig = opt(PolicyConfig())
    optimizer: OptimizerConfig = opt(OptimizerConfig())
    throttle: ThrottleConfig = opt(ThrottleConfig())
    migration: MigrationConfig = opt(MigrationConfig())
    network_map: tuple[NetworkMapConfig, ...] = opt(())
    imports: ImportsConfig = opt(ImportsConfig())
    predict: PredictConfig = opt(PredictConfig())
    collect: CollectConfig = opt(CollectConfig())
    paths: PathsConfig = opt(PathsConfig())
    maintenance: MaintenanceConfig = opt(MaintenanceConfig())
    control: ControlConfig = opt(ControlConfig())
    metrics: MetricsConfig = opt(MetricsConfig())
    logging: LoggingConfig = opt(LoggingConfig())
    ha: HaConfig = opt(HaConfig())
    source: Path = field(default=Path("<defaults>"), metadata={"internal": True})

    @property
    def fixed_maintenance(self) -> frozenset[str]:
        """Hosts in maintenance whatever the maintenance file says: a described sim cluster's
        ``maintenance = true`` (the daemon's maintenance watch adds them; ``maintenance exit`` cannot lift them)."""
        described = self.sim.described
        return described.maintenance if self.backend == "sim" and described is not None else frozenset()
