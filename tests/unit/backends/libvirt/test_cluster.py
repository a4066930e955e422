"""Unit tests of balancerd.backends.libvirt.cluster against libvirt's in-process test driver (test:///default).

The test driver has no migration, job stats or node memory stats (lab notes §6), so those paths use a thin
proxy around its connection (``hooks=``) whose domains fake just the migration calls; everything else is
the real libvirt API. All ``test:///default`` connections of a process share one state: tests that define
domains use their own names and undefine them.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any

import libvirt
import pytest

from balancerd.backends.base import Hypervisor, JobState, MigrationRequest
from balancerd.backends.libvirt import errors as libvirt_errors
from balancerd.backends.libvirt.cluster import EVENT_LOOP, LibvirtCluster, error_class, map_error
from balancerd.backends.libvirt.pool import ConnectionHooks
from balancerd.clock import FakeClock
from balancerd.config import HostConfig, from_table
from balancerd.errors import MigrationAbortedError, PermanentBackendError, TransientBackendError
from balancerd.model import MoveKind

TEST_URI = "test:///default"
BAD_URI = "qemu+unix:///system?socket=/nonexistent/balancerd-test-sock"
DOMAIN_XML = """<domain type='test'><name>{name}</name><memory unit='MiB'>128</memory><vcpu>1</vcpu>
<os><type arch='x86_64'>hvm</type></os>{metadata}</domain>"""
POLICY = "<metadata><balancerd:policy xmlns:balancerd='https://balancerd.dev/1' live='no'/></metadata>"


def make_error(code: int, domain: int = 10, message: str = "boom") -> libvirt.libvirtError:
    exc = libvirt.libvirtError(message)
    exc.err = (code, domain, message, 2, None, None, None, -1, -1)
    return exc


@pytest.fixture
def cluster() -> Iterator[LibvirtCluster]:
    hosts = [HostConfig("h1", TEST_URI), HostConfig("h2", TEST_URI, cpu_m=4500, mem_mib=1000)]
    backend = LibvirtCluster(hosts, FakeClock(), connect_timeout_s=2.0)
    yield backend
    backend.close()


@pytest.fixture
def extra_domains() -> Iterator[Any]:
    conn = libvirt.open(TEST_URI)
    created: list[Any] = []

    def define(name: str, metadata: str = "", *, start: bool = False, transient: bool = False) -> Any:
        xml = DOMAIN_XML.format(name=name, metadata=metadata)
        dom = conn.createXML(xml, 0) if transient else conn.defineXML(xml)
        if start and not transient:
            dom.create()
        created.append(dom)
        return dom

    yield define
    for dom in created:
        persistent = dom.isPersistent()
        if dom.isActive():
            dom.destroy()
        if persistent:
            dom.undefine()
    conn.close()


def test_implements_the_protocol(cluster: LibvirtCluster) -> None:
    assert isinstance(cluster, Hypervisor)


def test_hosts_report_get_info_figures_and_overrides(cluster: LibvirtCluster) -> None:
    conn = libvirt.open(TEST_URI)
    info = conn.getInfo()
    conn.close()
    h1, h2 = cluster.hosts()
    assert (h1.name, h1.cpus, h1.memory_mib, h1.reachable) == ("h1", info[2], info[1], True)
    assert (h2.name, h2.cpus, h2.memory_mib, h2.reachable) == ("h2", 4, 1000, True)


def test_unreachable_host_is_reported_and_its_stats_are_transient() -> None:
    hosts = [HostConfig("ok", TEST_URI), HostConfig("down", BAD_URI, cpu_m=8000)]
    with LibvirtCluster(hosts, FakeClock(), connect_timeout_s=2.0) as backend:
        ok, down = backend.hosts()
        assert ok.reachable and not down.reachable
        assert (down.cpus, down.memory_mib) == (8, 0)
        with pytest.raises(TransientBackendError, match="host down"):
            backend.domain_stats("down")
        with pytest.raises(TransientBackendError, match="next attempt in"):
            backend.node_stats("down")
        assert backend.domain_stats("ok")  # collection carries on for the others
        assert backend.locate("test") == ("ok",)


def test_domain_stats_of_the_default_domain(cluster: LibvirtCluster) -> None:
    rows = {row.name: row for row in cluster.domain_stats("h1")}
    row = rows["test"]
    assert (row.host, row.running, row.vcpus, row.memory_mib, row.persistent) == ("h1", True, 2, 8192, True)
    assert row.live_migratable and row.cpu_time_ns > 0 and row.memory_used_mib == 2048
    assert row.at == FakeClock().now()


def test_domain_stats_policy_metadata_state_and_persistence(cluster: LibvirtCluster, extra_domains: Any) -> None:
    extra_domains("bd-pinned", POLICY)
    extra_domains("bd-transient", transient=True)
    rows = {row.name: row for row in cluster.domain_stats("h1")}
    assert rows["bd-pinned"].live_migratable is False
    assert rows["bd-pinned"].running is False and rows["bd-pinned"].persistent is True
    assert rows["bd-pinned"].memory_mib == 128 and rows["bd-pinned"].vcpus == 1
    assert rows["bd-transient"].running is True and rows["bd-transient"].persistent is False
    assert rows["bd-transient"].live_migratable is True


def test_cpu_counter_is_monotone(cluster: LibvirtCluster) -> None:
    first = {r.name: r.cpu_time_ns for r in cluster.domain_stats("h1")}["test"]
    second = {r.name: r.cpu_time_ns for r in cluster.domain_stats("h1")}["test"]
    assert second >= first


def test_node_stats_busy_time_and_memory_fallback(cluster: LibvirtCluster) -> None:
    conn = libvirt.open(TEST_URI)
    cpu, info = conn.getCPUStats(-1), conn.getInfo()
    conn.close()
    stats = cluster.node_stats("h1")
    assert stats.cpu_time_ns == cpu["kernel"] + cpu["user"]
    assert stats.memory_total_mib == info[1]  # getMemoryStats is unsupported: getInfo + getFreeMemory
    assert 0 <= stats.memory_free_mib <= stats.memory_total_mib


def test_locate_and_unknown_names(cluster: LibvirtCluster) -> None:
    assert cluster.locate("test") == ("h1", "h2")  # test:///default state is shared by both "hosts"
    assert cluster.locate("no-such-vm") == ()
    with pytest.raises(PermanentBackendError, match="unknown host 'h9'"):
        cluster.domain_stats("h9")


@pytest.mark.parametrize(("code", "domain", "message", "expected"), [
    (libvirt.VIR_ERR_NO_DOMAIN, libvirt.VIR_FROM_QEMU, "Domain not found", PermanentBackendError),
    (libvirt.VIR_ERR_INVALID_ARG, libvirt.VIR_FROM_QEMU, "bad", PermanentBackendError),
    (libvirt.VIR_ERR_OPERATION_INVALID, libvirt.VIR_FROM_QEMU, "not running", PermanentBackendError),
    (libvirt.VIR_ERR_MIGRATE_UNSAFE, libvirt.VIR_FROM_QEMU, "unsafe", PermanentBackendError),
    (libvirt.VIR_ERR_CPU_INCOMPATIBLE, libvirt.VIR_FROM_CPU, "cpu", PermanentBackendError),
    (libvirt.VIR_ERR_INTERNAL_ERROR, libvirt.VIR_FROM_QEMU, "qemu said no", PermanentBackendError),
    (libvirt.VIR_ERR_OPERATION_TIMEOUT, libvirt.VIR_FROM_QEMU, "state change lock", TransientBackendError),
    (libvirt.VIR_ERR_NO_CONNECT, libvirt.VIR_FROM_REMOTE, "no connection", TransientBackendError),
    (libvirt.VIR_ERR_SYSTEM_ERROR, libvirt.VIR_FROM_RPC, "Cannot recv data", TransientBackendError),
    (libvirt.VIR_ERR_RPC, libvirt.VIR_FROM_RPC, "rpc", TransientBackendError),
    (libvirt.VIR_ERR_INVALID_CONN, libvirt.VIR_FROM_NONE, "invalid connection", TransientBackendError),
    (libvirt.VIR_ERR_INTERNAL_ERROR, libvirt.VIR_FROM_RPC, "client socket is closed", TransientBackendError),
    (libvirt.VIR_ERR_OPERATION_ABORTED, libvirt.VIR_FROM_QEMU, "operation aborted", MigrationAbortedError),
    (libvirt.VIR_ERR_OPERATION_FAILED, libvirt.VIR_FROM_QEMU,
     "operation aborted: job 'migration out' canceled by client", MigrationAbortedError),
])
def test_error_mapping(code: int, domain: int, message: str, expected: type[Exception]) -> None:
    exc = make_error(code, domain, message)
    assert error_class(exc) is expected
    mapped = map_error(exc, "host h1: VM vm7")
    assert type(mapped) is expected
    assert str(mapped).startswith("host h1: VM vm7: ") and message in str(mapped)


def test_error_numbers_match_the_bindings() -> None:
    for name in ("NO_SUPPORT", "NO_CONNECT", "INVALID_CONN", "INVALID_ARG", "OPERATION_DENIED", "SYSTEM_ERROR",
                 "RPC", "NO_DOMAIN", "AUTH_FAILED", "OPERATION_INVALID", "CONFIG_UNSUPPORTED",
                 "OPERATION_TIMEOUT", "OPERATION_ABORTED", "NO_DOMAIN_METADATA", "MIGRATE_UNSAFE",
                 "OPERATION_UNSUPPORTED", "AGENT_UNRESPONSIVE", "CPU_INCOMPATIBLE", "AUTH_UNAVAILABLE"):
        assert getattr(libvirt_errors, name) == getattr(libvirt, "VIR_ERR_" + name), name
    assert libvirt_errors.FROM_RPC == libvirt.VIR_FROM_RPC
    assert libvirt_errors.FROM_REMOTE == libvirt.VIR_FROM_REMOTE


def test_mapped_errors_chain_the_libvirt_error(cluster: LibvirtCluster) -> None:
    with pytest.raises(PermanentBackendError, match="VM no-such-vm") as info:
        cluster.start_migration(MigrationRequest("no-such-vm", "h1", "h2"))
    assert isinstance(info.value.__cause__, libvirt.libvirtError)


@pytest.mark.parametrize(("request_", "match"), [
    (MigrationRequest("test", "h1", "h1"), "same host"),
    (MigrationRequest("test", "h1", "h9"), "unknown host 'h9'"),
    (MigrationRequest("test", "h1", "h2", MoveKind.COLD), "cold migration needs a shut-off VM"),
])
def test_start_migration_validation(cluster: LibvirtCluster, request_: MigrationRequest, match: str) -> None:
    with pytest.raises(PermanentBackendError, match=match):
        cluster.start_migration(request_)
    assert cluster.job_stats(request_.vm).state is JobState.NONE


def test_live_migration_of_a_shut_off_vm_is_refused(cluster: LibvirtCluster, extra_domains: Any) -> None:
    extra_domains("bd-off")
    with pytest.raises(PermanentBackendError, match="needs a running VM"):
        cluster.start_migration(MigrationRequest("bd-off", "h1", "h2"))


def test_live_migration_of_a_pinned_vm_is_refused(cluster: LibvirtCluster, extra_domains: Any) -> None:
    extra_domains("bd-pinned-run", POLICY, start=True)
    with pytest.raises(PermanentBackendError, match="forbids live migration"):
        cluster.start_migration(MigrationRequest("bd-pinned-run", "h1", "h2"))


def test_migration_to_an_unreachable_host_is_transient() -> None:
    hosts = [HostConfig("ok", TEST_URI), HostConfig("down", BAD_URI)]
    with LibvirtCluster(hosts, FakeClock(), connect_timeout_s=2.0) as backend, \
            pytest.raises(TransientBackendError, match="host down"):
        backend.start_migration(MigrationRequest("test", "ok", "down"))


def test_failed_migration_reports_failed_with_the_libvirt_message(cluster: LibvirtCluster) -> None:
    cluster.start_migration(MigrationRequest("test", "h1", "h2"))  # the test driver has no p2p migration
    wait_final(cluster, "test")
    stats = cluster.job_stats("test")
    assert stats.state is JobState.FAILED
    assert "migration of VM test h1 -> h2" in stats.error and "not supported" in stats.error
    with pytest.raises(PermanentBackendError, match="no migration is running"):
        cluster.abort("test")


def test_abort_without_a_job_and_job_stats_without_a_job(cluster: LibvirtCluster) -> None:
    assert cluster.job_stats("test").state is JobState.NONE
    with pytest.raises(PermanentBackendError, match="nothing to abort"):
        cluster.abort("test")


def test_close_is_idempotent_and_stops_the_event_thread() -> None:
    backend = LibvirtCluster([HostConfig("h1", TEST_URI)], FakeClock())
    assert any(t.name == "libvirt-events" for t in threading.enumerate())
    backend.close()
    backend.close()
    assert not EVENT_LOOP.running  # no other cluster is open in this test


def test_from_config_uses_hosts_and_allow_unsafe() -> None:
    config = from_table({"backend": "libvirt", "throttle": {"allow_unsafe": True},
                         "hosts": [{"name": "h1", "uri": TEST_URI, "p2p_uri": "qemu+tcp://10.77.0.1/system"},
                                   {"name": "h2", "uri": TEST_URI}]}, base=__import__("pathlib").Path("/"))
    with LibvirtCluster.from_config(config, FakeClock()) as backend:
        assert backend.p2p_uri("h1") == "qemu+tcp://10.77.0.1/system"
        assert backend.p2p_uri("h2") == TEST_URI
        assert [h.name for h in backend.hosts()] == ["h1", "h2"]


def test_p2p_uris_argument_wins() -> None:
    hosts = [HostConfig("h1", TEST_URI, p2p_uri="qemu+tcp://a/system")]
    with LibvirtCluster(hosts, FakeClock(), p2p_uris={"h1": "qemu+tcp://b/system"}) as backend:
        assert backend.p2p_uri("h1") == "qemu+tcp://b/system"


# ------------------------------------------------------------------------- migrations through a fake domain

class FakeMigratingDomain:
    """Wraps a test-driver domain; its migrateToURI3 blocks until released or aborted."""

    def __init__(self, real: Any, finish: threading.Event, aborted: threading.Event) -> None:
        self._real = real
        self._finish = finish
        self._aborted = aborted
        self.calls: list[tuple[str, Any]] = []

    def __getattr__(self, name: str) -> Any:
        return getattr(self._real, name)

    def migrateSetMaxDowntime(self, ms: int, flags: int) -> int:
        self.calls.append(("downtime", ms))
        return 0

    def migrateToURI3(self, uri: str, params: dict[str, Any], flags: int) -> int:
        self.calls.append(("migrate", (uri, params, flags)))
        while not self._finish.wait(0.01):
            if self._aborted.is_set():
                raise make_error(libvirt.VIR_ERR_OPERATION_ABORTED, libvirt.VIR_FROM_QEMU,
                                 "operation aborted: job 'migration out' canceled by client")
        return 0

    def abortJob(self) -> int:
        self._aborted.set()
        return 0

    def jobStats(self, flags: int = 0) -> dict[str, int]:
        if flags == libvirt.VIR_DOMAIN_JOB_STATS_COMPLETED:
            return {"type": 3, "time_elapsed": 650, "downtime": 120, "data_total": 100, "data_processed": 100}
        return {"type": 2, "time_elapsed": 300, "data_total": 100, "data_processed": 40, "data_remaining": 60,
                "memory_dirty_rate": 256, "memory_page_size": 4096}


class FakeConn:
    def __init__(self, real: Any, domains: dict[str, FakeMigratingDomain]) -> None:
        self._real = real
        self._domains = domains

    def __getattr__(self, name: str) -> Any:
        return getattr(self._real, name)

    def lookupByName(self, name: str) -> Any:
        real = self._real.lookupByName(name)
        return self._domains.setdefault(name, FakeMigratingDomain(real, FINISH, ABORTED))


FINISH = threading.Event()
ABORTED = threading.Event()


@pytest.fixture
def fake_cluster() -> Iterator[tuple[LibvirtCluster, dict[str, FakeMigratingDomain]]]:
    FINISH.clear()
    ABORTED.clear()
    domains: dict[str, FakeMigratingDomain] = {}
    hooks = ConnectionHooks(open=lambda uri: FakeConn(libvirt.open(uri), domains),
                            close=lambda c: c.close(), alive=lambda c: bool(c.isAlive()))
    hosts = [HostConfig("h1", TEST_URI), HostConfig("h2", TEST_URI, migration_uri="tcp://10.77.1.2")]
    backend = LibvirtCluster(hosts, FakeClock(), allow_unsafe=True, hooks=hooks,
                             p2p_uris={"h2": "qemu+tcp://10.77.0.2/system"})
    yield backend, domains
    FINISH.set()
    backend.close()


def test_live_migration_arguments_running_and_completed_stats(fake_cluster: Any) -> None:
    backend, domains = fake_cluster
    backend.start_migration(MigrationRequest("test", "h1", "h2", bandwidth_mib_s=20, max_downtime_ms=250))
    running = backend.job_stats("test")
    assert running.state is JobState.RUNNING
    assert (running.elapsed_ms, running.data_remaining, running.dirty_rate_mib_s) == (300, 60, 1)
    assert "test" not in {r.name for r in backend.domain_stats("h2")}  # the incoming copy is not counted
    with pytest.raises(PermanentBackendError, match="already running"):
        backend.start_migration(MigrationRequest("test", "h1", "h2"))
    FINISH.set()
    wait_final(backend, "test")
    done = backend.job_stats("test")
    assert (done.state, done.downtime_ms, done.elapsed_ms, done.data_processed) == (JobState.COMPLETED, 120, 650, 100)
    calls = domains["test"].calls
    assert calls[0] == ("downtime", 250)
    uri, params, flags = calls[1][1]
    assert uri == "qemu+tcp://10.77.0.2/system"
    assert params == {libvirt.VIR_MIGRATE_PARAM_BANDWIDTH: 20, libvirt.VIR_MIGRATE_PARAM_URI: "tcp://10.77.1.2"}
    expected = (libvirt.VIR_MIGRATE_LIVE | libvirt.VIR_MIGRATE_PEER2PEER | libvirt.VIR_MIGRATE_PERSIST_DEST
                | libvirt.VIR_MIGRATE_UNDEFINE_SOURCE | libvirt.VIR_MIGRATE_UNSAFE)
    assert flags == expected


def test_abort_ends_in_aborted_and_the_vm_stays_on_the_source(fake_cluster: Any) -> None:
    backend, _domains = fake_cluster
    backend.start_migration(MigrationRequest("test", "h1", "h2"))
    backend.abort("test")
    stats = backend.job_stats("test")
    assert stats.state is JobState.ABORTED and "canceled by client" in stats.error
    with pytest.raises(PermanentBackendError, match="nothing to abort"):
        backend.abort("test")


def test_cold_migration_flags(fake_cluster: Any, extra_domains: Any) -> None:
    backend, domains = fake_cluster
    extra_domains("bd-cold")
    FINISH.set()
    backend.start_migration(MigrationRequest("bd-cold", "h1", "h2", MoveKind.COLD, bandwidth_mib_s=5))
    wait_final(backend, "bd-cold")
    calls = domains["bd-cold"].calls
    assert [c[0] for c in calls] == ["migrate"]  # no max downtime for an offline move
    _uri, params, flags = calls[0][1]
    assert flags == (libvirt.VIR_MIGRATE_OFFLINE | libvirt.VIR_MIGRATE_PEER2PEER
                     | libvirt.VIR_MIGRATE_PERSIST_DEST | libvirt.VIR_MIGRATE_UNDEFINE_SOURCE)
    assert params == {}  # an offline move copies no memory: no bandwidth


def wait_final(backend: LibvirtCluster, vm: str) -> None:
    """Join the migration worker (a real thread; its libvirt call returns at once in these tests)."""
    job = backend._jobs.get(vm)
    assert job is not None and job.wait(10.0)
