"""collect: rates from counters, unreachable hosts, capacity overrides."""

from __future__ import annotations

from dataclasses import dataclass, field

from balancerd.backends.base import DomainStats, HostInfo, JobStats, MigrationRequest, NodeStats
from balancerd.collect import Collector
from balancerd.collect.rates import CounterSample, cpu_millicores
from balancerd.errors import TransientBackendError
from balancerd.model import InFlight, Resources


def test_rates() -> None:
    assert cpu_millicores(None, CounterSample(1.0, 5)) is None
    assert cpu_millicores(CounterSample(0.0, 0), CounterSample(2.0, 3_000_000_000)) == 1500
    assert cpu_millicores(CounterSample(0.0, 10), CounterSample(1.0, 5)) is None  # reset
    assert cpu_millicores(CounterSample(1.0, 0), CounterSample(1.0, 5)) is None


@dataclass
class _Backend:
    t: float = 0.0
    down: set[str] = field(default_factory=set)

    def hosts(self) -> tuple[HostInfo, ...]:
        return (HostInfo("h1", 4, 8192), HostInfo("h2", 4, 8192, reachable="h2" not in self.down),
                HostInfo("h3", 2, 4096))

    def host_names(self) -> tuple[str, ...]:
        return tuple(h.name for h in self.hosts())

    def host_info(self, host: str) -> HostInfo:
        return next(h for h in self.hosts() if h.name == host)

    def reset_host(self, host: str, reason: str) -> None:
        raise AssertionError("no host hangs here")

    def node_stats(self, host: str) -> NodeStats:
        if host == "h3":
            raise TransientBackendError("h3: connection reset")
        return NodeStats(host, self.t, int(self.t * 1.5e9), 8192, 4096)

    def domain_stats(self, host: str) -> tuple[DomainStats, ...]:
        return (DomainStats(f"{host}-vm", host, self.t, True, 2, 1024, int(self.t * 1e9), 700),)

    def start_migration(self, request: MigrationRequest) -> None:
        raise NotImplementedError

    def job_stats(self, vm: str) -> JobStats:
        raise NotImplementedError

    def abort(self, vm: str) -> None:
        raise NotImplementedError

    def locate(self, vm: str) -> tuple[str, ...]:
        return ()

    def close(self) -> None:
        pass


def test_collect_forms_rates_and_marks_failures() -> None:
    backend = _Backend(down={"h2"})
    collector = Collector(backend, {"h1": Resources(2000, 2048)})
    first = collector.collect(0.0, frozenset({"h1"}))
    assert first.snapshot.vms[0].usage.cpu_m == 0
    backend.t = 10.0
    result = collector.collect(10.0, frozenset({"h1"}), (InFlight("x", "h1", "h2"),))
    snap = result.snapshot
    assert snap.seq == 2
    assert snap.in_flight == (InFlight("x", "h1", "h2"),)
    h1 = snap.host("h1")
    assert h1.capacity == Resources(2000, 2048) and h1.maintenance
    assert [vm.usage for vm in snap.vms] == [Resources(1000, 700)]
    assert h1.usage == Resources(1500, 4096)  # node reports more than the VM: overhead counted
    assert not snap.host("h2").reachable and not snap.host("h3").reachable
    assert any("h3: connection reset" in e for e in result.errors)
    assert any("h2 is unreachable" in e for e in result.errors)


def test_without_node_overhead_host_usage_is_the_vms() -> None:
    backend = _Backend()
    collector = Collector(backend, include_node_overhead=False)
    collector.collect(0.0)
    backend.t = 1.0
    assert collector.collect(1.0).snapshot.host("h1").usage == Resources(1000, 700)
