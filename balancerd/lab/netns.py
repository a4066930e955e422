"""Network namespaces of a lab: a switch namespace with the bridges ``mgmt`` (10.77.0.0/24) and ``mig``
(10.77.1.0/24), and one namespace per host with eth0/eth1 veths into them plus guest bridges.

Called by lifecycle.py. The root namespace gets no address and no namespace a default route, so lab
traffic cannot leave the namespaces the lab made (lab-notes §2).
"""

from __future__ import annotations

import contextlib
import fcntl
from collections.abc import Iterator, Sequence

from balancerd.lab import hostconf, paths, procs
from balancerd.lab.errors import LabError

LOCK_FILE = "/run/balancerd-lab.lock"
SWITCH_BRIDGES = (("mgmt", "eth0", paths.mgmt_ip), ("mig", "eth1", paths.mig_ip))


def existing() -> set[str]:
    """Names of the network namespaces that exist now."""
    out = procs.run(["ip", "netns", "list"], check=False).stdout
    return {line.split()[0] for line in out.splitlines() if line.strip()}


@contextlib.contextmanager
def claim_lock() -> Iterator[None]:
    """Serialise choosing a prefix and adding its switch namespace between concurrent `up`s."""
    with open(LOCK_FILE, "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def add(name: str) -> None:
    """Add an empty namespace (LabError if it exists: it belongs to someone else)."""
    _ip("netns", "add", name)


def free_prefix() -> str:
    """``bdlab`` when unused, else ``bdlab2``, ``bdlab3``, ... (so two labs in two dirs can coexist)."""
    names = existing()
    for k in range(1, 100):
        prefix = paths.NETNS_PREFIX if k == 1 else f"{paths.NETNS_PREFIX}{k}"
        if not any(n.startswith(prefix + "-") for n in names):
            return prefix
    raise LabError("no free network namespace prefix (bdlab..bdlab99 all in use)")


def _ip(*args: str) -> None:
    result = procs.run(["ip", *args], check=False)
    if result.returncode != 0:
        raise LabError(f"`ip {' '.join(args)}` failed: {result.stderr.strip()}")


def configure_switch(netns: str) -> None:
    """The (added) switch namespace gets its two bridges, up, without addresses."""
    _ip("-n", netns, "link", "set", "lo", "up")
    for bridge, _, _ in SWITCH_BRIDGES:
        _ip("-n", netns, "link", "add", bridge, "type", "bridge")
        _ip("-n", netns, "link", "set", bridge, "up")


def configure_host(switch: str, netns: str, index: int) -> None:
    """Host N's (added) namespace: eth0/eth1 on the switch bridges, addresses, guest bridges; no default
    route."""
    _ip("-n", netns, "link", "set", "lo", "up")
    for bridge, dev, address in SWITCH_BRIDGES:
        port = f"{bridge}-h{index}"
        _ip("-n", switch, "link", "add", port, "type", "veth", "peer", "name", dev, "netns", netns)
        _ip("-n", switch, "link", "set", port, "master", bridge, "up")
        _ip("-n", netns, "addr", "add", f"{address(index)}/24", "dev", dev)
        _ip("-n", netns, "link", "set", dev, "up")
    for _, guest_bridge in hostconf.networks(index):
        _ip("-n", netns, "link", "add", guest_bridge, "type", "bridge")
        _ip("-n", netns, "link", "set", guest_bridge, "up")


def delete(names: Sequence[str]) -> list[str]:
    """Delete the namespaces that exist; return error messages (teardown goes on regardless)."""
    errors = []
    present = existing()
    for name in names:
        if name in present:
            result = procs.run(["ip", "netns", "del", name], check=False)
            if result.returncode != 0:
                errors.append(f"ip netns del {name}: {result.stderr.strip()}")
    return errors
