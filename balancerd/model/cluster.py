"""What one collection saw: hosts, VMs, migrations in flight and the failure memory (``balancerd.model``).

The collector builds a :class:`ClusterSnapshot`; the predictor, the optimizer and the service read it.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from balancerd.model.resources import ZERO, Resources


@dataclass(frozen=True, slots=True)
class Host:
    """One hypervisor as seen by one collection.

    ``usage`` is the measured load: the sum of the host's VMs plus what the node reports beyond them.
    ``capacity`` is what may be used at all; the policy's headroom is applied by the optimizer.
    """

    name: str
    capacity: Resources
    usage: Resources = ZERO
    reachable: bool = True
    maintenance: bool = False
    domain: str = ""
    """Failure domain (rack, power feed, zone); "" = none given (the policy's ``domains`` may name one)."""
    networks: frozenset[str] | None = None
    """Networks and bridges a VM's NIC may name to run here, ``[[network_map]]`` applied (a source name the map
    sends to a network present here counts); None = not known, not checked."""
    cpu_group: str = ""
    """CPU compatibility group: the configured ``cpu_group``, else the host's CPU model; "" = not known."""
    cpu_models: frozenset[str] | None = None
    """Named CPU models a guest may use here (libvirt's domain capabilities); None = not known, not checked."""
    migration_problem: str = ""
    """Why the host cannot be reached on the migration network ("" = it can, or it is not checked)."""


@dataclass(frozen=True, slots=True)
class Vm:
    """One domain: ``size`` is what it was given (vCPUs, memory), ``usage`` what it uses."""

    name: str
    host: str
    size: Resources
    usage: Resources
    running: bool = True
    live_migratable: bool = True
    dirty_rate_mib_s: int = 0
    networks: frozenset[str] = frozenset()
    """The networks or bridges its NICs attach to, as named on its host."""
    cpu_mode: str = ""
    """Its ``<cpu mode>``: "custom", "host-model", "host-passthrough", or "" (no CPU defined)."""
    cpu_model: str = ""
    """The named model of a custom CPU ("" otherwise)."""


@dataclass(frozen=True, slots=True)
class FailureRecord:
    """What the failure memory holds for one (VM, destination): moves refused at run time or failed.

    ``count`` failures so far; no new attempt before ``retry_at`` (clock seconds, exponential back-off); at
    ``policy.max_failures`` the pair stays blocked until ``balancerctl release VM``.
    """

    vm: str
    dest: str
    count: int
    retry_at: float
    last_error: str = ""


@dataclass(frozen=True, slots=True)
class InFlight:
    """A migration in progress: the VM counts on both hosts until it ends."""

    vm: str
    source: str
    dest: str


@dataclass(frozen=True, slots=True)
class ClusterSnapshot:
    """Everything one collection saw, in one consistent value."""

    seq: int
    taken_at: float
    hosts: tuple[Host, ...]
    vms: tuple[Vm, ...]
    in_flight: tuple[InFlight, ...] = ()
    _on_host: dict[str, tuple[Vm, ...]] = field(default_factory=dict, init=False, repr=False, compare=False)
    """VMs per host, built once so that status and metrics need not scan every VM for every host."""

    def __post_init__(self) -> None:
        index: dict[str, list[Vm]] = {}
        for vm in self.vms:
            index.setdefault(vm.host, []).append(vm)
        object.__setattr__(self, "_on_host", {host: tuple(vms) for host, vms in index.items()})

    def host(self, name: str) -> Host:
        for host in self.hosts:
            if host.name == name:
                return host
        raise KeyError(name)

    def vms_on(self, host: str) -> tuple[Vm, ...]:
        return self._on_host.get(host, ())

    def find_vm(self, name: str) -> Vm | None:
        return next((vm for vm in self.vms if vm.name == name), None)

    def find_host(self, name: str) -> Host | None:
        return next((host for host in self.hosts if host.name == name), None)
