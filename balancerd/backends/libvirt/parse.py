"""Pure parsing of what libvirt returns into the backend's frozen values.

Called by ``backends.libvirt.cluster`` (the only libvirt importer), which hands over plain dicts and strings from
``getAllDomainStats``, ``getCPUStats``, ``getMemoryStats``, ``jobStats`` and domain metadata; nothing
here talks to a daemon, so it is unit-tested with literal dicts. libvirt reports memory in KiB and
times in ns (stats) or ms (jobs); the results use MiB, ns and ms as ``backends.base`` documents.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from balancerd.backends.base import DomainStats, JobState, JobStats

POLICY_NS = "https://balancerd.dev/1"
MIB = 1024 * 1024
_DEFAULT_PAGE_SIZE = 4096

# virDomainState values (stable ABI of libvirt).
STATE_RUNNING = 1
STATE_BLOCKED = 2
STATE_PAUSED = 3
_ACTIVE_STATES = frozenset({STATE_RUNNING, STATE_BLOCKED, STATE_PAUSED})

StatsRecord = Mapping[str, object]


@dataclass(frozen=True, slots=True)
class DomainFacts:
    """What the bulk record may lack, supplied by the caller: identity and fallbacks from ``dom.info()``."""

    name: str
    host: str
    at: float
    persistent: bool = True
    live_migratable: bool = True
    info: tuple[int, int, int, int, int] | None = None  # state, maxMem KiB, mem KiB, vcpus, cpuTime ns


def kib_to_mib(kib: int) -> int:
    """KiB -> MiB, rounded down."""
    return kib // 1024


def _int(record: StatsRecord, key: str) -> int | None:
    value = record.get(key)
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return int(value)


def info_tuple(info: Sequence[int] | None) -> tuple[int, int, int, int, int] | None:
    """``dom.info()`` (state, maxMem KiB, mem KiB, vcpus, cpuTime ns) as a typed tuple."""
    if info is None:
        return None
    state, max_kib, kib, vcpus, cpu_ns = (int(x) for x in info[:5])
    return state, max_kib, kib, vcpus, cpu_ns


def needs_info(record: StatsRecord) -> bool:
    """True when the bulk record lacks the CPU, vCPU or memory figures (the test driver, old daemons)."""
    keys = ("cpu.time", "vcpu.current", "balloon.maximum")
    return any(_int(record, key) is None for key in keys)


def memory_used_mib(record: StatsRecord, fallback_kib: int) -> int:
    """Guest memory in use: balloon available - unused, else QEMU RSS, else the current allocation."""
    available, unused = _int(record, "balloon.available"), _int(record, "balloon.unused")
    if available is not None and unused is not None and available >= unused:
        return kib_to_mib(available - unused)
    rss = _int(record, "balloon.rss")
    if rss is not None:
        return kib_to_mib(rss)
    current = _int(record, "balloon.current")
    return kib_to_mib(current if current is not None else fallback_kib)


def dirty_rate_mib_s(record: StatsRecord) -> int:
    """The guest's last measured dirty rate (``dirtyrate.megabytes_per_second``), 0 when not measured."""
    return max(0, _int(record, "dirtyrate.megabytes_per_second") or 0)


def domain_stats(record: StatsRecord, facts: DomainFacts) -> DomainStats:
    """One row of ``getAllDomainStats`` (+ facts) -> DomainStats."""
    info = facts.info or (0, 0, 0, 0, 0)
    state = _int(record, "state.state")
    state = info[0] if state is None else state
    max_kib = _int(record, "balloon.maximum")
    cpu_time = _int(record, "cpu.time")
    vcpus = _int(record, "vcpu.current")
    return DomainStats(
        name=facts.name,
        host=facts.host,
        at=facts.at,
        running=state in _ACTIVE_STATES,
        vcpus=vcpus if vcpus is not None else info[3],
        memory_mib=kib_to_mib(max_kib if max_kib is not None else info[1]),
        cpu_time_ns=cpu_time if cpu_time is not None else info[4],
        memory_used_mib=memory_used_mib(record, info[2]),
        dirty_rate_mib_s=dirty_rate_mib_s(record),
        live_migratable=facts.live_migratable,
        persistent=facts.persistent,
    )


def live_migratable(policy_xml: str | None) -> bool:
    """Read ``<balancerd:policy live="no"/>``; anything absent or unreadable means live-migratable."""
    if not policy_xml:
        return True
    try:
        element = ET.fromstring(policy_xml)
    except ET.ParseError:
        return True
    for node in element.iter():
        live = node.get("live")
        if node.tag in ("policy", f"{{{POLICY_NS}}}policy") and live is not None:
            return live.strip().lower() not in ("no", "false", "0", "off")
    return True


def policy_from_domain_xml(domain_xml: str) -> bool:
    """``live_migratable`` from a whole domain XML (its ``<metadata>`` element)."""
    try:
        root = ET.fromstring(domain_xml)
    except ET.ParseError:
        return True
    policy = root.find(f"metadata/{{{POLICY_NS}}}policy")
    return True if policy is None else live_migratable(ET.tostring(policy, encoding="unicode"))


def node_busy_ns(cpu_stats: Mapping[str, int]) -> int:
    """Cumulative busy CPU time of a node: kernel + user, or total - idle when only those exist."""
    if "kernel" in cpu_stats and "user" in cpu_stats:
        return int(cpu_stats["kernel"]) + int(cpu_stats["user"])
    if "total" in cpu_stats:
        return int(cpu_stats["total"]) - int(cpu_stats.get("idle", 0))
    return int(cpu_stats.get("utilization", 0))


def running_job(vm: str, stats: Mapping[str, int | float]) -> JobStats:
    """``dom.jobStats()`` of the source while the migration runs -> JobStats RUNNING."""
    page = int(stats.get("memory_page_size", _DEFAULT_PAGE_SIZE)) or _DEFAULT_PAGE_SIZE
    dirty_pages = int(stats.get("memory_dirty_rate", 0))
    return JobStats(
        vm=vm,
        state=JobState.RUNNING,
        elapsed_ms=int(stats.get("time_elapsed", 0)),
        data_total=int(stats.get("data_total", 0)),
        data_processed=int(stats.get("data_processed", 0)),
        data_remaining=int(stats.get("data_remaining", 0)),
        dirty_rate_mib_s=dirty_pages * page // MIB,
        iteration=int(stats.get("memory_iteration", 0)),
    )


def completed_job(vm: str, stats: Mapping[str, int | float], fallback_elapsed_ms: int) -> JobStats:
    """The destination's ``jobStats(COMPLETED)`` -> JobStats COMPLETED (downtime measured by QEMU)."""
    downtime = stats.get("downtime")
    return JobStats(
        vm=vm,
        state=JobState.COMPLETED,
        elapsed_ms=int(stats.get("time_elapsed", fallback_elapsed_ms)),
        data_total=int(stats.get("data_total", 0)),
        data_processed=int(stats.get("data_processed", 0)),
        data_remaining=int(stats.get("data_remaining", 0)),
        downtime_ms=None if downtime is None else int(downtime),
    )


def is_abort_message(message: str) -> bool:
    """True for libvirt's messages of a job cancelled by ``abortJob``."""
    return "canceled by client" in message or "cancelled by client" in message
