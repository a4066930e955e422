"""Where and how an export lands: the host (the optimizer's initial placement, or the one named), the storage
pool, the network mapping, the devices, and the checks of the target.

Called by :mod:`balancerd.importing.cli` on a fresh collection (the same as ``balancerd plan``'s). Pure: the
snapshot, forecast, pools and config come in as values. NICs are mapped through ``[[network_map]]`` rows of
``source_kind`` "vmware" (VMX, OVF, OVA) or "hyperv" (VHD, VHDX), or "foreign"; a host is a candidate only
when every NIC maps there to a network it has (when no host is, every host is weighed and the mapping check
fails). The new VM is planned at its full size (every vCPU busy, all its
memory): nothing is known of its load yet.
"""

from __future__ import annotations

from dataclasses import dataclass

from balancerd.backends.base import Check, PoolInfo
from balancerd.config import Config, foreign_network
from balancerd.errors import UnknownHostError
from balancerd.importing import devices as dev
from balancerd.importing.reading import Export
from balancerd.model import ClusterSnapshot, FailureRecord, Forecast, Host, Placement, Resources, Vm
from balancerd.optimize.placement import place

AUTO = "auto"
MIB = 1024 * 1024
_KIND = {"vmx": "vmware", "ovf": "vmware", "vhd": "hyperv", "vhdx": "hyperv"}


@dataclass(frozen=True, slots=True)
class Request:
    """What the operator asked: the name, the host (or "auto"), the pool ("" = the config's or the roomiest),
    the device choice."""

    name: str
    host: str = AUTO
    pool: str = ""
    compat: bool = False
    converter: str = "qemu-img"


@dataclass(frozen=True, slots=True)
class Target:
    """The decided target: host (None: none may take it), pool, networks, disk format, devices, and checks."""

    host: str | None
    pool: str
    networks: tuple[tuple[str, str], ...]
    disk_format: str
    devices: dev.Devices
    placement: Placement
    checks: tuple[Check, ...]
    converter: str = "qemu-img"
    """"qemu-img" (disks copied, guest unchanged) or "virt-v2v" (the guest made ready for KVM)."""


def decide(export: Export, request: Request, config: Config, snapshot: ClusterSnapshot, forecast: Forecast,
           pools: dict[str, tuple[PoolInfo, ...]], failures: tuple[FailureRecord, ...] = ()) -> Target:
    """The target of ``export`` under ``request`` on the cluster ``snapshot`` shows."""
    guest = export.guest
    if request.host != AUTO and snapshot.find_host(request.host) is None:
        raise UnknownHostError(request.host, tuple(h.name for h in snapshot.hosts))
    kind = _KIND[guest.format]
    mappable = [h for h in snapshot.hosts if not _unmapped(config, h, kind, export)]
    only = (request.host,) if request.host != AUTO else tuple(h.name for h in mappable)
    newcomer = Vm(request.name, "", _size(export), _size(export))
    placed = place(snapshot, forecast, config.policy, newcomer, hosts=only, failures=failures)
    host = placed.host
    networks = _networks(config, host or request.host, kind, export)
    wanted = request.pool or config.imports.pool
    pool = _pool(wanted, pools.get(host or "", ()))
    devices = dev.choose(guest, request.name, dict(networks), compat=request.compat,
                         volume_ext=config.imports.disk_format)
    checks = (_name_free(request.name, snapshot), _capacity(placed, host, request),
              _mapped(config, snapshot, host or request.host, kind, export), _present(snapshot, host, networks),
              _space(export, pool, wanted, pools.get(host or "", ()), config),
              _cpu(export, snapshot, host or (request.host if request.host != AUTO else None)))
    return Target(host, pool.name if pool else "", networks, config.imports.disk_format, devices, placed, checks,
                  request.converter)


def _size(export: Export) -> Resources:
    return Resources(export.guest.vcpus * 1000, -(-export.guest.memory_bytes // MIB))


def _unmapped(config: Config, host: Host, kind: str, export: Export) -> list[str]:
    """The source networks of ``export`` that do not map to a network ``host`` has."""
    missing = []
    for nic in export.guest.nics:
        target = foreign_network(config.network_map, host.name, kind, nic.network)
        if target is None or (host.networks is not None and target not in host.networks):
            missing.append(nic.network)
    return missing


def _networks(config: Config, host: str, kind: str, export: Export) -> tuple[tuple[str, str], ...]:
    pairs: dict[str, str] = {}
    for nic in export.guest.nics:
        pairs.setdefault(nic.network, foreign_network(config.network_map, host, kind, nic.network) or "")
    return tuple(pairs.items())


def _pool(wanted: str, pools: tuple[PoolInfo, ...]) -> PoolInfo | None:
    active = [p for p in pools if p.active]
    if wanted:
        return next((p for p in pools if p.name == wanted), None)
    return max(active, key=lambda p: (p.available_mib, p.name), default=None)


def _name_free(name: str, snapshot: ClusterSnapshot) -> Check:
    found = snapshot.find_vm(name)
    if found is not None:
        return Check("name free", False, f"a VM {name!r} already runs on {found.host}: import under another --name")
    return Check("name free", True, f"no VM is called {name!r}")


def _capacity(placed: Placement, host: str | None, request: Request) -> Check:
    if host is None:
        return Check("host capacity", False, placed.reason)
    how = "chosen by the optimizer" if request.host == AUTO else "named by --host"
    return Check("host capacity", True, f"{how}: {placed.reason}")


def _mapped(config: Config, snapshot: ClusterSnapshot, host: str, kind: str, export: Export) -> Check:
    unmapped = [n.network for n in export.guest.nics
                if foreign_network(config.network_map, host, kind, n.network) is None]
    if not unmapped:
        return Check("networks mapped", True, f"{len(export.guest.nics)} NIC(s) mapped through [[network_map]]")
    known = sorted({n for h in snapshot.hosts for n in (h.networks or ())})
    return Check("networks mapped", False,
                 f"no [[network_map]] row (source_kind = {kind!r} or 'foreign') maps {', '.join(unmapped)}"
                 f"{f' on {host}' if host != AUTO else ''}; known targets: {', '.join(known) or '(not reported)'}")


def _present(snapshot: ClusterSnapshot, host: str | None, networks: tuple[tuple[str, str], ...]) -> Check:
    info = snapshot.find_host(host) if host else None
    if info is None or info.networks is None:
        return Check("networks present", info is not None, "the host does not report its networks: not checked"
                     if info is not None else "no host chosen")
    absent = sorted({t for _, t in networks if t and t not in info.networks})
    if absent:
        return Check("networks present", False, f"{host} has no network or bridge {', '.join(absent)}")
    return Check("networks present", True, f"{host} has {', '.join(sorted({t for _, t in networks})) or 'no NIC'}")


def _space(export: Export, pool: PoolInfo | None, wanted: str, pools: tuple[PoolInfo, ...], config: Config) -> Check:
    need = sum(d.virtual_size_bytes for d in export.guest.disks)
    if pool is None:
        if not pools and config.backend == "sim":
            return Check("pool free space", True, "the simulated cluster models no storage pools: not checked")
        names = ", ".join(p.name for p in pools) or "none"
        return Check("pool free space", False, f"no pool {wanted or '(active)'} on the host; "
                                               f"its pools: {names} (set --pool or [imports] pool)")
    free = pool.available_mib * MIB
    ok = pool.active and free >= need
    return Check("pool free space", ok, f"pool {pool.name}: {free // MIB} MiB free, the disks' virtual size "
                                        f"{-(-need // MIB)} MiB{'' if pool.active else ' (pool inactive)'}")


def _cpu(export: Export, snapshot: ClusterSnapshot, host: str | None) -> Check:
    info = snapshot.find_host(host) if host else None
    if info is None:
        return Check("cpu compatibility", False, "no host chosen")
    cpus = info.capacity.cpu_m // 1000
    if export.guest.vcpus > cpus:
        return Check("cpu compatibility", False, f"{export.guest.vcpus} vCPUs, {host} has {cpus} CPUs")
    return Check("cpu compatibility", True, f"QEMU's default CPU model (no host CPU feature needed); "
                                            f"{export.guest.vcpus} of {cpus} CPUs")


def as_json(target: Target) -> dict[str, object]:
    """The ``target`` object of the dry-run."""
    return {"host": target.host or "", "pool": target.pool, "networks": dict(target.networks),
            "disk_format": target.disk_format, "converter": target.converter, "devices": dev.as_json(target.devices),
            "placement": {"reason": target.placement.reason,
                          "candidates": [{"host": c.host, "gain": c.gain, "reasons": list(c.reasons)}
                                         for c in target.placement.candidates]}}
