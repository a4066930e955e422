"""What the libvirt backend does around a migration beyond starting it: flags and typed parameters, the
pre-flight (the VM's facts and the destination's checks), cold moves and moving a disk between pools on one
host (issue 6); pools are read through :mod:`~balancerd.backends.libvirt.storage`.

Called only by ``backends.libvirt.cluster``, which hands in connection and domain handles and ``call(host, where,
fn)`` (it runs one libvirt call and maps a ``libvirtError`` to our errors). So this module needs no
``libvirt`` import (ARCHITECTURE.md rule 3): the flag and parameter values below are libvirt's stable ABI, checked
against the bindings in tests/unit/backends/libvirt/test_moves.py.
"""

from __future__ import annotations

import ipaddress
import os
from collections.abc import Callable
from typing import Any, TypeVar
from urllib.parse import urlsplit

from balancerd.backends.base import Check, JobState, JobStats, MigrationRequest, MoveFacts, VmPolicy
from balancerd.backends.libvirt import domxml as dxml
from balancerd.backends.libvirt import storage
from balancerd.backends.libvirt.inventory import Calls, Inventory
from balancerd.clock import Clock
from balancerd.errors import BackendError, PermanentBackendError, TransientBackendError
from balancerd.model import MoveKind

_T = TypeVar("_T")
Call = Callable[[str, str, Callable[[], _T]], _T]

MIGRATE_LIVE = 1
MIGRATE_PEER2PEER = 2
MIGRATE_PERSIST_DEST = 8
MIGRATE_UNDEFINE_SOURCE = 16
MIGRATE_NON_SHARED_DISK = 64
MIGRATE_UNSAFE = 512
MIGRATE_OFFLINE = 1024
MIGRATE_AUTO_CONVERGE = 8192
MIGRATE_POSTCOPY = 32768
PARAM_URI = "migrate_uri"
PARAM_BANDWIDTH = "bandwidth"
PARAM_MIGRATE_DISKS = "migrate_disks"
PARAM_DEST_XML = "destination_xml"
PARAM_PERSIST_XML = "persistent_xml"
PARAM_AC_INITIAL = "auto_converge.initial"
PARAM_AC_INCREMENT = "auto_converge.increment"
XML_INACTIVE = 2
XML_MIGRATABLE = 8
BLOCK_COPY_TRANSIENT_JOB = 4
BLOCK_JOB_ABORT_PIVOT = 2
CPU_COMPARE_INCOMPATIBLE = 0

LIVE_FLAGS = MIGRATE_LIVE | MIGRATE_PEER2PEER | MIGRATE_PERSIST_DEST | MIGRATE_UNDEFINE_SOURCE
COLD_FLAGS = MIGRATE_OFFLINE | MIGRATE_PEER2PEER | MIGRATE_PERSIST_DEST | MIGRATE_UNDEFINE_SOURCE
POLL_S = 0.1
PIVOT_TIMEOUT_S = 600.0
KIB_PER_MIB = 1024


def flags_for(request: MigrationRequest, allow_unsafe: bool) -> int:
    """migrateToURI3 flags of a live or storage move (cold moves use COLD_FLAGS)."""
    flags = LIVE_FLAGS | (MIGRATE_UNSAFE if allow_unsafe else 0)
    if request.kind is MoveKind.STORAGE:
        flags |= MIGRATE_NON_SHARED_DISK
    if request.auto_converge:
        flags |= MIGRATE_AUTO_CONVERGE
    if request.postcopy:
        flags |= MIGRATE_POSTCOPY
    return flags


def params_for(request: MigrationRequest, migration_uri: str, dom: Any) -> dict[str, Any]:
    """Typed parameters: bandwidth, migration network URI, disks to copy, auto-converge steps and the
    network-mapped destination XML (live and persistent, lab notes pitfall 11)."""
    params: dict[str, Any] = {}
    if request.bandwidth_mib_s > 0:
        params[PARAM_BANDWIDTH] = request.bandwidth_mib_s
    if migration_uri:
        params[PARAM_URI] = migration_uri
    if request.kind is MoveKind.STORAGE and request.copy_disks:
        params[PARAM_MIGRATE_DISKS] = list(request.copy_disks)
    if request.auto_converge:
        params[PARAM_AC_INITIAL] = request.auto_converge_initial_pct
        params[PARAM_AC_INCREMENT] = request.auto_converge_increment_pct
    if request.network_map:
        mapping = dict(request.network_map)
        params[PARAM_DEST_XML] = dxml.map_networks(dom.XMLDesc(XML_MIGRATABLE), mapping)
        params[PARAM_PERSIST_XML] = dxml.map_networks(dom.XMLDesc(XML_MIGRATABLE | XML_INACTIVE), mapping)
    return params


def source_domain(calls: Calls, inventory: Inventory, request: MigrationRequest, where: str, now: float) -> Any:
    """The domain on the source, checked to be in the state the kind of move needs."""
    source = request.source
    conn = calls.conn(source)
    dom = calls.call(source, where, lambda: conn.lookupByName(request.vm))
    active = bool(calls.call(source, where, dom.isActive))
    if request.kind is MoveKind.COLD:
        if active and request.shutdown_timeout_s <= 0:
            raise PermanentBackendError(f"{where}: a cold migration needs a shut-off VM; it is running")
        if not calls.call(source, where, dom.isPersistent):
            raise PermanentBackendError(f"{where}: a cold migration needs a persistent (defined) VM")
    elif not active:
        raise PermanentBackendError(f"{where}: a live migration needs a running VM; it is shut off")
    elif not inventory.vm_policy(source, dom, now).live:
        raise PermanentBackendError(f"{where}: the VM's policy forbids live migration (use a cold move)")
    return dom


# ----------------------------------------------------------------------------------------- pre-flight

def preflight(calls: Calls, inventory: Inventory, request: MigrationRequest, migration_uri: str,
              shared: tuple[str, ...], now: float) -> MoveFacts:
    """The VM's facts on its source and every check of the destination (a destination without a connection
    fails only the reachability check)."""
    source, dest = request.source, request.dest
    where = f"pre-flight of VM {request.vm} {source} -> {dest}"
    conn = calls.conn(source)
    dom = calls.call(source, where, lambda: conn.lookupByName(request.vm))
    xml = calls.call(source, where, lambda: dom.XMLDesc(0))
    running = bool(calls.call(source, where, dom.isActive))
    policy = inventory.vm_policy(source, dom, now)
    dirty = inventory.dirty_rate(request.vm)
    try:
        dest_conn = calls.conn(dest)
    except TransientBackendError as exc:
        unreachable = Check("destination reachable", False, str(exc))
        return facts(request, dom, xml, policy, dirty, running, 0, (unreachable,), shared)
    call = calls.call
    checks = (
        check_reachable(call, dest, dest_conn),
        check_migration_network(call, dest, dest_conn, migration_uri),
        check_cpu(call, dest, dest_conn, xml),
        check_networks(call, dest, dest_conn, xml, dict(request.network_map)),
        check_storage(call, dest, dest_conn, dom, xml, shared),
    )
    free = inventory.capacity_mib(dest) - committed_mib(call, dest, dest_conn)
    return facts(request, dom, xml, policy, dirty, running, free, checks, shared)


def _attempt(call: Call[Any], host: str, where: str, fn: Callable[[], _T]) -> tuple[_T | None, str]:
    try:
        return call(host, where, fn), ""
    except BackendError as exc:
        return None, str(exc)


def check_reachable(call: Call[Any], dest: str, conn: Any) -> Check:
    name, error = _attempt(call, dest, f"host {dest}: hostname", conn.getHostname)
    return Check("destination reachable", not error, error or f"{dest} answers as {name}")


def check_migration_network(call: Call[Any], dest: str, conn: Any, migration_uri: str) -> Check:
    """The migration address of ``dest`` is configured on one of its active interfaces."""
    host = urlsplit(migration_uri).hostname if migration_uri else None
    if not host:
        return Check("migration network", True, "no dedicated migration network configured")
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return Check("migration network", True, f"{host} is a name; not checked")
    ifaces, error = _attempt(call, dest, f"host {dest}: interfaces", lambda: conn.listAllInterfaces(0))
    if ifaces is None:
        return Check("migration network", True, f"interfaces not listable ({error}); not checked")
    up = [(iface.name(), iface.XMLDesc(0).replace('"', "'")) for iface in ifaces if iface.isActive()]
    if any(f"address='{host}'" in xml for _name, xml in up):
        return Check("migration network", True, f"{host} is up on {dest}")
    if any("<ip address=" in xml for _name, xml in up):
        return Check("migration network", False, f"no active interface of {dest} has the migration address {host}")
    names = [name for name, _xml in up if name != "lo"]
    detail = f"libvirt lists no addresses on {dest} (udev backend); interfaces up: {', '.join(names) or 'none'}"
    return Check("migration network", bool(names), detail)


def check_cpu(call: Call[Any], dest: str, conn: Any, xml: str) -> Check:
    cpu = dxml.cpu_xml(xml)
    if cpu is None:
        return Check("cpu compatible", True, "the VM defines no CPU model")
    emulator, arch, machine, virt = dxml.os_facts(xml)
    result, error = _attempt(call, dest, f"host {dest}: compareHypervisorCPU",
                             lambda: conn.compareHypervisorCPU(emulator or None, arch or None, machine or None,
                                                               virt or None, cpu, 0))
    if result is None:
        return Check("cpu compatible", False, error)
    ok = int(result) != CPU_COMPARE_INCOMPATIBLE
    return Check("cpu compatible", ok, f"{dest}: " + ("compatible" if ok else "the VM's CPU is incompatible"))


def check_networks(call: Call[Any], dest: str, conn: Any, xml: str, mapping: dict[str, str]) -> Check:
    missing, seen = [], []
    bridges: set[str] | None = None
    for nic in dxml.interfaces(xml):
        name = mapping.get(nic.source, nic.source)
        seen.append(name if name == nic.source else f"{nic.source}->{name}")
        if nic.type == "network":
            if not _network_active(call, dest, conn, name):
                missing.append(f"network {name}")
        else:
            bridges = bridges if bridges is not None else _interface_names(call, dest, conn)
            if bridges and name not in bridges:
                missing.append(f"bridge {name}")
    if missing:
        return Check("networks", False, f"{dest} lacks {', '.join(missing)} (no network_map row maps it there)")
    return Check("networks", True, f"present on {dest}: {', '.join(seen) or 'no NICs'}")


def _network_active(call: Call[Any], dest: str, conn: Any, name: str) -> bool:
    net, _error = _attempt(call, dest, f"host {dest}: network {name}", lambda: conn.networkLookupByName(name))
    return net is not None and bool(net.isActive())


def _interface_names(call: Call[Any], dest: str, conn: Any) -> set[str]:
    ifaces, _error = _attempt(call, dest, f"host {dest}: interfaces", lambda: conn.listAllInterfaces(0))
    return {iface.name() for iface in ifaces or ()}


def check_storage(call: Call[Any], dest: str, conn: Any, dom: Any, xml: str, shared: tuple[str, ...]) -> Check:
    """Every writable disk has an active pool on ``dest``: for local disks one whose directory is the disk's
    (libvirt pre-creates the copy there, pitfall 10) with room for it; for shared ones one that covers it."""
    pools = storage.pool_infos(call, dest, conn)
    problems = []
    for disk in dxml.disks(xml):
        if disk.readonly:
            continue
        if dxml.is_shared(disk.path, shared):
            if not any(p.active and dxml.is_shared(disk.path, (p.path,)) for p in pools):
                problems.append(f"no pool covers shared {disk.path}")
            continue
        pool = next((p for p in pools if p.active and p.path.rstrip("/") == os.path.dirname(disk.path)), None)
        size = _disk_mib(call, dest, dom, disk.path)
        if pool is None:
            problems.append(f"no pool with target {os.path.dirname(disk.path)} for {disk.target}")
        elif pool.available_mib < size:
            problems.append(f"pool {pool.name} has {pool.available_mib} MiB, {disk.target} needs {size}")
    if problems:
        return Check("storage", False, f"{dest}: {'; '.join(problems)}")
    return Check("storage", True, f"{dest} has the pools the VM's disks need")


def _disk_mib(call: Call[Any], host: str, dom: Any, path: str) -> int:
    info, _error = _attempt(call, host, f"blockInfo {path}", lambda: dom.blockInfo(path, 0))
    return 0 if info is None else int(info[2]) // (KIB_PER_MIB * 1024)


def committed_mib(call: Call[Any], host: str, conn: Any) -> int:
    """Memory given to the active domains of ``host`` (for the capacity check)."""
    doms = call(host, f"host {host}: active domains", lambda: conn.listAllDomains(1))  # 1 = ACTIVE
    return sum(int(call(host, f"host {host}: VM info", d.info)[1]) // KIB_PER_MIB for d in doms)


def facts(request: MigrationRequest, dom: Any, xml: str, policy: VmPolicy, dirty_rate: int, running: bool,
          dest_free_mib: int, checks: tuple[Check, ...], shared: tuple[str, ...]) -> MoveFacts:
    memory_kib = int(dom.maxMemory())
    return MoveFacts(
        vm=request.vm, running=running, memory_mib=memory_kib // KIB_PER_MIB, dirty_rate_mib_s=dirty_rate,
        policy=policy, local_disks=tuple(d.target for d in dxml.local_disks(xml, shared)),
        networks=tuple(nic.source for nic in dxml.interfaces(xml)), dest_free_mib=dest_free_mib, checks=checks)


# ----------------------------------------------------------------------------------------- workers

def wait_inactive(call: Call[Any], host: str, dom: Any, clock: Clock, timeout_s: float) -> bool:
    deadline = clock.now() + timeout_s
    while clock.now() < deadline:
        if not call(host, "isActive", dom.isActive):
            return True
        clock.sleep(POLL_S)
    return False


def cold_move(call: Call[Any], request: MigrationRequest, dom: Any, dest_conn: Callable[[], Any], p2p_uri: str,
              clock: Clock) -> JobStats:
    """Shut the VM down (destroy after the timeout), move its definition, start it on the destination.

    If the move itself fails the VM is started again on its source. Downtime = shutdown to start.
    """
    source, dest, vm = request.source, request.dest, request.vm
    where = f"cold migration of VM {vm} {source} -> {dest}"
    running = bool(call(source, where, dom.isActive))
    started = clock.now()
    if running:
        call(source, f"{where}: shutdown", dom.shutdown)
        if not wait_inactive(call, source, dom, clock, request.shutdown_timeout_s):
            call(source, f"{where}: destroy after {request.shutdown_timeout_s:g} s", dom.destroy)
    try:
        call(source, where, lambda: dom.migrateToURI3(p2p_uri, {}, COLD_FLAGS))
    except BackendError:
        if running:
            call(source, f"{where}: restart on source", dom.create)
        raise
    if running:
        conn = dest_conn()
        moved = call(dest, f"{where}: lookup", lambda: conn.lookupByName(vm))
        call(dest, f"{where}: start", moved.create)
    downtime = int((clock.now() - started) * 1000) if running else None
    return JobStats(vm, JobState.COMPLETED, elapsed_ms=int((clock.now() - started) * 1000), downtime_ms=downtime)


def copy_target(pool_path: str, source: str, where: str) -> str:
    """Where a disk copied into ``pool_path`` goes: the pool's directory and the source's file name.

    A source path with a ``..`` component, or whose file name is empty, ``.`` or ``..``, is refused
    (PermanentBackendError): the name taken from it could put the copy outside the pool (issue 19).
    """
    parts = source.split("/")
    if ".." in parts:
        raise PermanentBackendError(f"{where}: the disk's source {source!r} has a '..' component; "
                                    "refusing to name its copy after it")
    name = parts[-1]
    if name in ("", "."):
        raise PermanentBackendError(f"{where}: the disk's source {source!r} has no file name to give its copy")
    pool = os.path.normpath(pool_path)
    target = os.path.join(pool, name)
    if os.path.dirname(target) != pool:
        raise PermanentBackendError(f"{where}: the copy of {source!r} would land outside the pool {pool}")
    return target


def disk_move(call: Call[Any], host: str, vm: str, dom: Any, disk: str, pool_path: str, clock: Clock) -> JobStats:
    """blockCopy ``disk`` into ``pool_path`` (same file name), wait until mirrored, pivot (lab notes §4)."""
    where = f"host {host}: VM {vm}: move disk {disk} to {pool_path}"
    xml = call(host, where, lambda: dom.XMLDesc(0))
    found = next((d for d in dxml.disks(xml) if d.target == disk), None)
    if found is None:
        raise PermanentBackendError(f"{where}: the VM has no disk {disk}")
    target = copy_target(pool_path, found.path, where)
    if target == os.path.normpath(found.path):
        raise PermanentBackendError(f"{where}: the disk is already there")
    spec = dxml.disk_copy_xml(target, found.format)
    started = clock.now()
    call(host, where, lambda: dom.blockCopy(disk, spec, {}, BLOCK_COPY_TRANSIENT_JOB))
    deadline = started + PIVOT_TIMEOUT_S
    while clock.now() < deadline:
        info = call(host, where, lambda: dom.blockJobInfo(disk, 0))
        if info and int(info.get("end", 0)) > 0 and info.get("cur") == info.get("end"):
            try:
                call(host, f"{where}: pivot", lambda: dom.blockJobAbort(disk, BLOCK_JOB_ABORT_PIVOT))
                return JobStats(vm, JobState.COMPLETED, elapsed_ms=int((clock.now() - started) * 1000),
                                data_processed=int(info["end"]), data_total=int(info["end"]))
            except BackendError:
                pass  # not ready for pivot yet: mirror again
        clock.sleep(POLL_S)
    call(host, f"{where}: cancel", lambda: dom.blockJobAbort(disk, 0))
    raise PermanentBackendError(f"{where}: not mirrored within {PIVOT_TIMEOUT_S:g} s; copy cancelled")
