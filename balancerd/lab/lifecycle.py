"""`lab up` and `lab down`: build a lab step by step, recording each step in state.json, and tear down
exactly what the record says, by PID and by name.

Called by cli.py and (through the CLI) by the e2e fixture. A failed or interrupted `up` tears down what
it had started before re-raising.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import pwd
import shutil
import signal
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from balancerd.lab import assets, cgroups, daemons, guests, labconfig, netns, paths, procs, state
from balancerd.lab.errors import LabError
from balancerd.lab.state import HostState, LabState

REQUIRED_TOOLS = ("ip", "unshare", "tini", "libvirtd", "qemu-system-x86_64", "hostname", "mount")
KILL_GRACE_S = 3.0


@dataclass(frozen=True, slots=True)
class UpRequest:
    """What `lab up` was asked for."""

    hosts: int
    vms: int
    virt: str = "auto"
    guests: bool = True


class Recorder:
    """The current LabState, saved to state.json on every change."""

    def __init__(self, layout: paths.LabLayout, initial: LabState) -> None:
        self.layout = layout
        self.state = initial
        state.save(layout.state_file, initial)

    def update(self, new: LabState) -> None:
        self.state = new
        state.save(self.layout.state_file, new)


def missing_requirements() -> list[str]:
    """What keeps a lab from starting here (root, programs, user, kernel), each with its fix; [] if none."""
    missing = []
    if os.geteuid() != 0:
        missing.append("root (network namespaces, mounts, cgroups)")
    tools = [t for t in REQUIRED_TOOLS if shutil.which(t) is None]
    if tools:
        missing.append(f"programs {', '.join(tools)}")
    if not _user_exists("libvirt-qemu"):
        missing.append("user libvirt-qemu (libvirtd refuses to start without it)")
    try:
        assets.kernel_dir(paths.cache_dir())
    except LabError:
        missing.append(f"guest kernel in {paths.cache_dir() / 'kernel' / 'current'}")
    if not assets.BUSYBOX.is_file():
        missing.append(f"{assets.BUSYBOX} (busybox-static)")
    return missing


def _user_exists(name: str) -> bool:
    try:
        pwd.getpwnam(name)
    except KeyError:
        return False
    return True


def check_prerequisites() -> None:
    """LabError naming everything that is missing and how to install it."""
    missing = missing_requirements()
    if missing:
        raise LabError(f"missing: {'; '.join(missing)}. Fix: {assets.INSTALL_HINT}")


def up(layout: paths.LabLayout, request: UpRequest, log: Callable[[str], None]) -> LabState:
    """Bring a lab up in ``layout``; LabError if one is recorded there already or anything fails."""
    if not 1 <= request.hosts <= paths.MAX_HOSTS:
        raise LabError(f"--hosts must be 1..{paths.MAX_HOSTS}, not {request.hosts}")
    if request.vms < 0:
        raise LabError(f"--vms must be >= 0, not {request.vms}")
    if layout.state_file.exists():
        raise LabError(f"a lab is already up in {layout.root} (see `balancerd lab status --dir "
                       f"{layout.root}`); run `balancerd lab down --dir {layout.root}` first")
    check_prerequisites()
    layout.root.mkdir(parents=True, exist_ok=True)
    boot = assets.prepare(layout, paths.cache_dir())
    with netns.claim_lock():
        prefix = netns.free_prefix()
        switch, _ = paths.netns_names(prefix, request.hosts)
        netns.add(switch)
    rec = Recorder(layout, LabState(dir=str(layout.root), prefix=prefix, switch_netns=switch))
    try:
        _build(layout, request, rec, boot, log)
    except BaseException:
        log("up failed; tearing down what was started")
        for problem in teardown(layout, rec.state, log):
            log(f"teardown left: {problem} (run `balancerd lab down --dir {layout.root}` again)")
        raise
    return rec.state


def _build(layout: paths.LabLayout, request: UpRequest, rec: Recorder, boot: assets.BootAssets,
           log: Callable[[str], None]) -> None:
    t0 = time.monotonic()
    _start_hosts(layout, request.hosts, rec)
    hosts = [layout.host(h.index) for h in rec.state.hosts]
    for host, host_state in zip(hosts, rec.state.hosts, strict=True):
        daemons.wait_ready(host, host_state.pid)
    log(f"{len(hosts)} libvirtd ready after {time.monotonic() - t0:.1f} s")
    _parallel([lambda h=h: daemons.probe_capabilities(h) for h in hosts])  # type: ignore[misc]
    daemons.save_capabilities(hosts[0])
    for host in hosts:
        daemons.define_networks_and_pools(host)
    log(f"hosts up after {time.monotonic() - t0:.1f} s")
    virt = guests.choose_virt(request.virt, hosts[0], layout, boot)
    names = guests.start_all(layout, boot, virt, request.vms, request.hosts) if request.guests else []
    layout.balancerd_dir.mkdir(parents=True, exist_ok=True)
    layout.config_file.write_text(labconfig.balancerd_toml(layout, request.hosts))
    rec.update(dataclasses.replace(rec.state, virt=virt, guests=tuple(names), config=str(layout.config_file),
                                   ready=True))
    log(f"lab up in {time.monotonic() - t0:.1f} s: {request.hosts} hosts, {len(names)} guests ({virt})")


def _start_hosts(layout: paths.LabLayout, count: int, rec: Recorder) -> None:
    netns.configure_switch(rec.state.switch_netns)
    mounts = cgroups.available()
    _, names = paths.netns_names(rec.state.prefix, count)
    for index, ns in enumerate(names, start=1):
        host = layout.host(index)
        netns.add(ns)
        entry = HostState(index=index, name=host.name, netns=ns)
        rec.update(rec.state.with_host(entry))
        netns.configure_host(rec.state.switch_netns, ns, index)
        made = cgroups.create(mounts, ns)
        entry = dataclasses.replace(entry, cgroups=tuple(str(p) for p in made))
        rec.update(rec.state.with_host(entry))
        daemons.prepare_files(host, count, mounts)
        pid = daemons.start(layout, host, ns, mounts)
        rec.update(rec.state.with_host(dataclasses.replace(entry, pid=pid)))


def _parallel(calls: Sequence[Callable[[], None]]) -> None:
    with ThreadPoolExecutor(max_workers=max(1, len(calls))) as pool:
        for future in [pool.submit(c) for c in calls]:
            future.result()


def down(layout: paths.LabLayout, log: Callable[[str], None]) -> bool:
    """Tear down the lab recorded in ``layout``; False if nothing was up."""
    recorded = state.load(layout.state_file)
    if recorded is None:
        return False
    problems = teardown(layout, recorded, log)
    if problems:
        raise LabError("teardown left: " + "; ".join(problems))
    return True


def teardown(layout: paths.LabLayout, lab: LabState, log: Callable[[str], None]) -> list[str]:
    """Stop QEMUs, then daemons, then stragglers in our namespaces; delete namespaces, cgroups, files."""
    inodes = _netns_inodes([h.netns for h in lab.hosts] + [lab.switch_netns])
    _stop(_qemu_pids(layout, lab), lambda p: _is_qemu(p, layout), "QEMU", log)
    _stop(_daemon_pids(layout, lab), lambda p: _is_daemon(p, inodes), "daemon", log)
    _stop(_pids_in_netns(inodes), lambda p: _netns_inode(p) in inodes, "leftover", log)
    problems = netns.delete([h.netns for h in lab.hosts] + [lab.switch_netns])
    problems += _remove_cgroups(lab)
    _remove_files(layout, lab)
    if not problems:  # keep the record while something is left, so `down` can be run again
        layout.state_file.unlink(missing_ok=True)
    return problems


def _stop(pids: Sequence[int], guard: Callable[[int], bool], what: str, log: Callable[[str], None]) -> None:
    targets = sorted({p for p in pids if guard(p)})
    if not targets:
        return
    for pid in targets:
        _kill(pid, signal.SIGTERM)
    survivors = procs.wait_gone(targets, KILL_GRACE_S)
    for pid in survivors:
        if guard(pid):
            log(f"{what} {pid} did not stop on SIGTERM; SIGKILL")
            _kill(pid, signal.SIGKILL)
    procs.wait_gone(survivors, KILL_GRACE_S)


def _kill(pid: int, sig: int) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, sig)


def _qemu_pids(layout: paths.LabLayout, lab: LabState) -> list[int]:
    pids = []
    for host in lab.hosts:
        pid_dir = layout.host(host.index).qemu_pid_dir
        for pidfile in pid_dir.glob("*.pid") if pid_dir.is_dir() else []:
            pid = procs.read_pidfile(pidfile) if pidfile.name != "driver.pid" else None
            if pid:
                pids.append(pid)
    return pids + procs.find_by_cmdline(_qemu_words(layout))


def _qemu_words(layout: paths.LabLayout) -> tuple[str, str]:
    return ("qemu-system", f"{layout.root}/")


def _is_qemu(pid: int, layout: paths.LabLayout) -> bool:
    return procs.matches(pid, _qemu_words(layout))


def _daemon_pids(layout: paths.LabLayout, lab: LabState) -> list[int]:
    pids = [h.pid for h in lab.hosts if h.pid]
    for host in lab.hosts:
        pid = procs.read_pidfile(layout.host(host.index).sub("run") / "libvirtd.pid")
        if pid:
            pids.append(pid)
    return pids


def _is_daemon(pid: int, inodes: set[int]) -> bool:
    """A lab daemon: inside one of our namespaces, or still the start script naming one of them."""
    line = procs.cmdline(pid)
    if not procs.alive(pid) or not line:
        return False
    in_ours = _netns_inode(pid) in inodes
    return in_ours or ("ip netns exec" in line and "libvirtd" in line)


def _netns_inodes(names: Sequence[str]) -> set[int]:
    inodes = set()
    for name in names:
        try:
            inodes.add(os.stat(f"/run/netns/{name}").st_ino)
        except OSError:
            continue
    return inodes


def _netns_inode(pid: int) -> int | None:
    try:
        return os.stat(f"/proc/{pid}/ns/net").st_ino
    except OSError:
        return None


def _pids_in_netns(inodes: set[int]) -> list[int]:
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit() and _netns_inode(int(entry)) in inodes and procs.alive(int(entry)):
            found.append(int(entry))
    return found


def _remove_cgroups(lab: LabState) -> list[str]:
    failed: list[str] = []
    for host in lab.hosts:
        for path in host.cgroups:
            failed += _retry_remove(path)
    return failed


def _retry_remove(path: str) -> list[str]:
    deadline = time.monotonic() + 2.0
    failed = cgroups.remove(Path(path))
    while failed and time.monotonic() < deadline:
        time.sleep(0.1)
        failed = cgroups.remove(Path(path))
    return failed


def _remove_files(layout: paths.LabLayout, lab: LabState) -> None:
    """Per-host dirs, consoles, balancerd state, config, shared files; keep the boot assets."""
    targets = [layout.host(h.index).root for h in lab.hosts]
    targets += [layout.consoles, layout.balancerd_dir, layout.config_file]
    if layout.shared.is_dir():
        targets += [p for p in layout.shared.iterdir() if p != layout.boot]
    for target in targets:
        if target.is_dir() and not target.is_symlink():
            shutil.rmtree(target, ignore_errors=True)
        else:
            target.unlink(missing_ok=True)



def restart_daemon(layout: paths.LabLayout, index: int) -> int:
    """Start host N's libvirtd again after it died or was killed (fault tests); record and return its PID.

    Networks, pools and domains are persistent in the host's dirs, so the daemon comes back with them.
    """
    lab = state.load(layout.state_file)
    if lab is None:
        raise LabError(f"no lab in {layout.root}")
    entry = next((h for h in lab.hosts if h.index == index), None)
    if entry is None:
        raise LabError(f"the lab has no host{index}")
    if entry.pid and procs.alive(entry.pid):
        raise LabError(f"libvirtd of host{index} still runs (PID {entry.pid})")
    host = layout.host(index)
    pid = daemons.start(layout, host, entry.netns, cgroups.available())
    state.save(layout.state_file, lab.with_host(dataclasses.replace(entry, pid=pid)))
    daemons.wait_ready(host, pid)
    return pid
