"""The configuration's shape: one frozen dataclass per TOML table, each field with its default and bounds.

Read by :mod:`balancerd.config.loading` (which builds these from a parsed file, field by field, from the
``_opt`` metadata) and by everything that takes a config value. The documented defaults live in
``config/balancerd.toml``; :func:`migration_speed` is the one rule for how fast a migration goes.
"""

from __future__ import annotations

import fnmatch
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from balancerd.blackout import ALLOW_LEVELS

DEFAULT_CONFIG_PATH = Path("/etc/balancerd/balancerd.toml")
DEFAULT_LINK_MIB_S = 1000
"""``[migration] link_mib_s`` when not set (roughly what a 10 Gbit/s link carries)."""

Amounts = tuple[tuple[str, int], ...]
"""A TOML table of names to non-negative integers (``pools = { images = 500000 }``), as sorted pairs."""


def _opt(default: Any, *, lo: float | None = None, hi: float | None = None,
         choices: tuple[str, ...] | None = None, path: bool = False, required: bool = False) -> Any:
    """A config field with its default and what values are allowed; ``required`` keys must be written."""
    meta = {"lo": lo, "hi": hi, "choices": choices, "path": path, "required": required}
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
    cpu_group: str = _opt("")
    """CPU compatibility group for the planner ("": the host's CPU model as libvirt reports it)."""


CPU_MODES = ("", "custom", "host-model", "host-passthrough", "maximum")
"""A described VM's ``cpu_mode`` (libvirt's ``<cpu mode=...>``; "" = not known)."""


@dataclass(frozen=True, slots=True)
class ClusterHostConfig:
    """One ``[[hosts]]`` entry of a described cluster file (``[sim] cluster``).

    ``networks`` / ``cpu_models`` omitted = every network / CPU model; ``pools``: storage pool name -> free MiB;
    ``resources``: named resource -> capacity.
    """

    name: str = _opt("", required=True)
    cpus: int = _opt(1, lo=1, hi=100_000, required=True)
    memory_mib: int = _opt(1, lo=1, required=True)
    networks: tuple[str, ...] | None = _opt(None)
    cpu_group: str = _opt("")
    cpu_models: tuple[str, ...] | None = _opt(None)
    maintenance: bool = _opt(False)
    pools: Amounts = _opt(())
    resources: Amounts = _opt(())


@dataclass(frozen=True, slots=True)
class ClusterVmConfig:
    """One ``[[vms]]`` entry of a described cluster file: its size, use, facts, disks and named resources.

    ``cpu_pct``: CPU use in percent of its vCPUs; ``disks``: storage pool name -> MiB of its local disks there;
    ``resources``: named resource -> demand.
    """

    name: str = _opt("", required=True)
    host: str = _opt("", required=True)
    vcpus: int = _opt(1, lo=1, hi=100_000, required=True)
    memory_mib: int = _opt(1, lo=1, required=True)
    cpu_pct: float = _opt(0.0, lo=0.0, hi=100.0)
    mem_used_pct: float = _opt(60.0, lo=0.0, hi=100.0)
    dirty_rate_mib_s: int = _opt(0, lo=0)
    live_migratable: bool = _opt(True)
    networks: tuple[str, ...] = _opt(())
    cpu_mode: str = _opt("", choices=CPU_MODES)
    cpu_model: str = _opt("")
    disks: Amounts = _opt(())
    resources: Amounts = _opt(())


@dataclass(frozen=True, slots=True)
class SimConfig:
    """The simulated cluster (backend = "sim"): drawn from a seed, or described in a file (``cluster``)."""

    hosts: int = _opt(20, lo=1, hi=100_000)
    vms: int = _opt(400, lo=0, hi=1_000_000)
    host_cpu_m: int = _opt(32_000, lo=1)
    host_mem_mib: int = _opt(131_072, lo=1)
    trace: str = _opt("bundled")
    trace_step_s: int = _opt(300, lo=1)
    seed: int = _opt(1, lo=0)
    speed: float = _opt(1.0, lo=0.001, hi=1_000_000.0)
    skew: float = _opt(0.0, lo=0.0, hi=1.0)
    cluster: Path | None = _opt(None, path=True)
    """A described cluster file (TOML: hosts, VMs, rules); None = draw the cluster from the keys above."""
    described: ClusterFile | None = field(default=None, metadata={"internal": True})
    """What ``cluster`` holds, read when the config loads (:mod:`balancerd.config.cluster`)."""


SEEDED_SIM_KEYS = ("hosts", "vms", "host_cpu_m", "host_mem_mib", "seed", "skew", "trace")
"""``[sim]`` keys a described cluster (``cluster``) replaces: setting one of them beside it is an error
(``trace_step_s`` stays: the step of a ``balancerd simulate`` replay on the described cluster)."""


RULE_KINDS = ("anti_affinity", "affinity", "must", "must_not", "should", "should_not", "pin", "exclude", "spread",
              "depends", "soft_affinity", "soft_anti_affinity")
"""Placement rule kinds (see RuleConfig)."""


@dataclass(frozen=True, slots=True)
class RuleConfig:
    """One placement rule (``[[policy.rules]]``); ``vms`` and ``hosts`` are names or shell patterns.

    anti_affinity: the VMs run on distinct hosts. affinity: the VMs run on one host. must / must_not: the VMs
    run only on / never on ``hosts``. should / should_not: the same as a soft preference. pin: the VMs stay
    where they are. exclude: balancerd never moves them. spread: the VMs span at least ``min_domains``
    failure domains. depends: every failure domain that runs one of ``vms`` also runs one of ``on`` (a
    dependency between groups within a neighbourhood, e.g. app servers next to a replica of their database).
    soft_affinity / soft_anti_affinity: the VMs should share a host / should run apart, a preference.
    ``weight`` scales a soft rule's penalty (``policy.soft_rule_weight`` per miss, times ``weight``).
    """

    kind: str = _opt("anti_affinity", choices=RULE_KINDS)
    name: str = _opt("")
    vms: tuple[str, ...] = _opt(())
    hosts: tuple[str, ...] = _opt(())
    min_domains: int = _opt(2, lo=1, hi=1000)
    on: tuple[str, ...] = _opt(())
    weight: float = _opt(1.0, lo=0.0, hi=1000.0)


@dataclass(frozen=True, slots=True)
class ClusterFile:
    """A described cluster file (``[sim] cluster``): its hosts, its VMs and placement rules.

    ``rules`` have the shape of ``[[policy.rules]]`` and are appended to them when the config loads.
    """

    hosts: tuple[ClusterHostConfig, ...] = _opt(())
    vms: tuple[ClusterVmConfig, ...] = _opt(())
    rules: tuple[RuleConfig, ...] = _opt(())
    source: Path = field(default=Path("<table>"), metadata={"internal": True})

    @property
    def maintenance(self) -> frozenset[str]:
        """The hosts the file puts in maintenance."""
        return frozenset(h.name for h in self.hosts if h.maintenance)


@dataclass(frozen=True, slots=True)
class DomainConfig:
    """A failure domain (``[[policy.domains]]``): its name and its hosts (names or shell patterns)."""

    name: str = _opt("")
    hosts: tuple[str, ...] = _opt(())


@dataclass(frozen=True, slots=True)
class BlackoutConfig:
    """A blackout window (``[[policy.blackout]]``): no balancing from ``start`` to ``end`` (HH:MM wall-clock time in
    ``tz``) on ``days`` (Mon..Sun, ranges such as Mon-Fri, or *); ``allow`` says what still starts inside it. An
    ``end`` not after ``start`` crosses midnight (the window belongs to the day it starts on)."""

    days: tuple[str, ...] = _opt(("*",))
    start: str = _opt("", required=True)
    end: str = _opt("", required=True)
    tz: str = _opt("UTC")
    allow: str = _opt("drains", choices=tuple(ALLOW_LEVELS))


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
    cross_domain_cost: float = _opt(1.0, lo=1.0, hi=100.0)
    soft_rule_weight: float = _opt(0.05, lo=0.0)
    consolidate_target_pct: int = _opt(80, lo=10, hi=100)
    max_failures: int = _opt(3, lo=1, hi=1000)
    """Failures of one VM towards one host after which that pair stays blocked until ``balancerctl release``."""
    failure_backoff_s: float = _opt(300.0, lo=0.0, hi=86_400.0)
    """Back-off after a VM's first failure towards a host; it doubles with every further failure there."""
    max_moves_per_vm_per_day: int = _opt(0, lo=0, hi=10_000)
    """Moves balancing may make of one VM in any 24 hours (0 = no cap); drains, restores and repairs are exempt but
    count."""
    external_moves_backoff: int = _opt(5, lo=0, hi=100_000)
    """More external moves (VMs moved by another tool or a person) than this in an hour make balancing back off
    (0 = never)."""
    external_backoff_s: float = _opt(3600.0, lo=0.0, hi=7 * 86_400.0)
    """How long balancing backs off after too many external moves."""
    rules: tuple[RuleConfig, ...] = _opt(())
    domains: tuple[DomainConfig, ...] = _opt(())
    blackout: tuple[BlackoutConfig, ...] = _opt(())


@dataclass(frozen=True, slots=True)
class OptimizerConfig:
    """How long the optimizer may improve a cycle's plan after construction (``[optimizer]``)."""

    time_budget_s: float = _opt(2.0, lo=0.0, hi=600.0)
    """Seconds the engine's search may improve the balance strategy's target state (0 = construction only);
    at most a quarter of ``interval_s`` is used, so that planning never takes the cycle."""


@dataclass(frozen=True, slots=True)
class CollectConfig:
    """How host load is derived from what the hypervisors report."""

    node_overhead: bool = _opt(True)
    workers: int = _opt(0, lo=0, hi=1024)
    """Hosts collected at once; 0 = min(32, hosts)."""
    host_timeout_s: float = _opt(5.0, lo=0.1, hi=600.0)
    """Time one host has for its whole collection; a host that misses it is unreachable for the cycle."""

    def worker_count(self, hosts: int) -> int:
        """How many collection workers run for ``hosts`` hosts."""
        return max(1, min(self.workers or 32, hosts))


@dataclass(frozen=True, slots=True)
class ThrottleConfig:
    """Limits of the executor: slots per host and cluster, deadline, hourly budget, polling."""

    per_host_in: int = _opt(1, lo=1, hi=64)
    per_host_out: int = _opt(1, lo=1, hi=64)
    cluster_max: int = _opt(4, lo=1, hi=1024)
    deadline_s: float = _opt(600.0, lo=0.1)
    poll_interval_s: float = _opt(0.5, lo=0.01, hi=60.0)
    migrations_per_hour: int = _opt(120, lo=1)
    allow_unsafe: bool = _opt(False)


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
    link_mib_s: int = _opt(DEFAULT_LINK_MIB_S, lo=1)
    """The physical migration link (also the simulated backend's transfer speed)."""
    bandwidth_mib_s: int = _opt(0, lo=0)
    """The operator's cap on every migration, handed to the hypervisor; 0 = no cap."""

    def speed_mib_s(self, vm_cap_mib_s: int | None = None) -> int:
        """The speed a migration really gets: its cap (the VM's own, else ours) within the link."""
        return migration_speed(self.link_mib_s, vm_cap_mib_s or self.bandwidth_mib_s)


SOURCE_KINDS = ("libvirt", "vmware", "hyperv", "foreign")
"""What a ``[[network_map]]`` row's ``source`` names: a libvirt network or bridge of another host (migration
across networks), a VMware port group or OVF network, a Hyper-V virtual switch (``balancerd import``), or
either foreign kind."""


@dataclass(frozen=True, slots=True)
class NetworkMapConfig:
    """One ``[[network_map]]`` row: guests on ``source`` (network or bridge) use ``dest`` on ``hosts``.
    ``source_kind`` says what ``source`` names (:data:`SOURCE_KINDS`); a foreign row's source may be a shell
    pattern ("VM Network*")."""

    source: str = _opt("")
    dest: str = _opt("")
    hosts: tuple[str, ...] = _opt(("*",))
    source_kind: str = _opt("libvirt", choices=SOURCE_KINDS)


def network_pairs(rows: tuple[NetworkMapConfig, ...], dest: str) -> tuple[tuple[str, str], ...]:
    """The (source, dest) network pairs of the map's libvirt rows that apply to host ``dest`` (first matching
    row wins).

    The one reading of ``[[network_map]]``: the executor's pre-flight maps a moving VM's NICs with it, the
    collector the networks a host offers to the planner; :func:`foreign_network` reads the foreign rows.
    """
    pairs: dict[str, str] = {}
    for row in rows:
        if row.source_kind != "libvirt":
            continue
        if row.source not in pairs and any(fnmatch.fnmatchcase(dest, pattern) for pattern in row.hosts):
            pairs[row.source] = row.dest
    return tuple(pairs.items())


def foreign_network(rows: tuple[NetworkMapConfig, ...], dest: str, kind: str, name: str) -> str | None:
    """The libvirt network or bridge that a foreign NIC on ``name`` (a ``kind`` = "vmware" or "hyperv" network)
    uses on host ``dest``: the first row of that kind (or "foreign") whose source matches, else None."""
    for row in rows:
        if row.source_kind not in (kind, "foreign"):
            continue
        if fnmatch.fnmatchcase(name, row.source) and any(fnmatch.fnmatchcase(dest, p) for p in row.hosts):
            return row.dest
    return None


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
class MaintenanceConfig:
    """What leaving maintenance does (``[maintenance]``)."""

    restore: bool = _opt(False)
    """Bring the VMs drained off a host back when it leaves maintenance (``maintenance exit --restore`` asks
    for it once)."""


@dataclass(frozen=True, slots=True)
class PathsConfig:
    """Where state lives."""

    maintenance_file: Path = _opt(Path("/var/lib/balancerd/maintenance"), path=True)
    journal: Path = _opt(Path("/var/lib/balancerd/journal.sqlite"), path=True)
    pid_file: Path = _opt(Path("/run/balancerd/balancerd.pid"), path=True)
    status_file: Path = _opt(Path("/run/balancerd/status.json"), path=True)


@dataclass(frozen=True, slots=True)
class ControlConfig:
    """The control API (``balancerctl`` talks to it) and the kill switches.

    The Unix socket is always served; a TCP listener only when ``tcp_address`` is set, and then it needs TLS
    (``tls_cert``, ``tls_key``) and a bearer token (``token_file``). ``pause_file``: while it exists no new
    migration starts. ``pause_state`` keeps a pause made through the API across restarts.
    """

    socket: Path = _opt(Path("/run/balancerd/control.sock"), path=True)
    group: str = _opt("")
    """Group owning the socket (mode 0660); empty = root's group."""
    pause_file: Path = _opt(Path("/var/lib/balancerd/pause"), path=True)
    pause_state: Path = _opt(Path("/var/lib/balancerd/paused.json"), path=True)
    tcp_address: str = _opt("")
    tcp_port: int = _opt(9178, lo=1, hi=65535)
    tls_cert: str = _opt("")
    tls_key: str = _opt("")
    token_file: str = _opt("")


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
class ImportsConfig:
    """``balancerd import``: where converted disks go and how imported guests are defined (``[imports]``)."""

    pool: str = _opt("")
    """The storage pool disks are uploaded into; "" = the destination's active pool with the most free space."""
    disk_format: str = _opt("qcow2", choices=("qcow2", "raw"))
    domain_type: str = _opt("kvm", choices=("kvm", "qemu"))
    """libvirt domain type of imported guests: "kvm", or "qemu" (TCG) where there is no usable KVM."""
    work_dir: Path = _opt(Path("/var/tmp/balancerd-import"), path=True)
    """Scratch space on this machine: an OVA unpacked, each disk converted before its upload."""
    serial_log_dir: Path | None = _opt(None, path=True)
    """Imported guests write their serial console to ``DIR/NAME.log`` (a path every host sees); None = a pty."""
    converter: str = _opt("qemu-img", choices=("qemu-img", "virt-v2v"))
    """"qemu-img": disks copied, the guest unchanged; "virt-v2v": the guest made ready for KVM (``--converter``)."""


@dataclass(frozen=True, slots=True)
class HaConfig:
    """Two or more cluster heads on etcd (``[ha]``): every head collects and plans, the lease holder moves VMs.

    Without ``etcd_endpoints`` the daemon is a single head and needs no etcd (:mod:`balancerd.ha`).
    """

    etcd_endpoints: tuple[str, ...] = _opt(())
    """``http://HOST:PORT`` or ``https://HOST:PORT`` of every etcd member; tried in order, the last good one first."""
    name: str = _opt("")
    """This head's name in the election and in the journal; "" = the hostname."""
    lease_ttl_s: int = _opt(10, lo=2, hi=300)
    """How long a leader that stopped answering stays leader; a takeover takes this plus one cycle."""
    prefix: str = _opt("/balancerd/")
    """Where in etcd this cluster's keys live (two clusters on one etcd use two prefixes)."""
    request_timeout_s: float = _opt(2.0, lo=0.1, hi=60.0)
    """How long one request to one etcd member may take before the next member is tried."""
    ca_file: str = _opt("")
    """CA bundle that signed the etcd members' certificates (https); "" = the system's trust store."""
    cert_file: str = _opt("")
    """Client certificate, for etcd members that require one (``--client-cert-auth``); with ``key_file``."""
    key_file: str = _opt("")

    @property
    def enabled(self) -> bool:
        return bool(self.etcd_endpoints)


@dataclass(frozen=True, slots=True)
class Config:
    """The whole configuration of one daemon."""

    mode: str = _opt("recommend", choices=("recommend", "enforce"))
    interval_s: float = _opt(60.0, lo=0.01, hi=86_400.0)
    backend: str = _opt("sim", choices=("sim", "libvirt"))
    hosts: tuple[HostConfig, ...] = _opt(())
    sim: SimConfig = _opt(SimConfig())
    policy: PolicyConfig = _opt(PolicyConfig())
    optimizer: OptimizerConfig = _opt(OptimizerConfig())
    throttle: ThrottleConfig = _opt(ThrottleConfig())
    migration: MigrationConfig = _opt(MigrationConfig())
    network_map: tuple[NetworkMapConfig, ...] = _opt(())
    imports: ImportsConfig = _opt(ImportsConfig())
    predict: PredictConfig = _opt(PredictConfig())
    collect: CollectConfig = _opt(CollectConfig())
    paths: PathsConfig = _opt(PathsConfig())
    maintenance: MaintenanceConfig = _opt(MaintenanceConfig())
    control: ControlConfig = _opt(ControlConfig())
    metrics: MetricsConfig = _opt(MetricsConfig())
    logging: LoggingConfig = _opt(LoggingConfig())
    ha: HaConfig = _opt(HaConfig())
    source: Path = field(default=Path("<defaults>"), metadata={"internal": True})

    @property
    def fixed_maintenance(self) -> frozenset[str]:
        """Hosts in maintenance whatever the maintenance file says: a described sim cluster's
        ``maintenance = true`` (the daemon's maintenance watch adds them; ``maintenance exit`` cannot lift them)."""
        described = self.sim.described
        return described.maintenance if self.backend == "sim" and described is not None else frozenset()
