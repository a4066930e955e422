"""Where the lab keeps its files, and the names and addresses it gives its hosts.

Used by every other lab module and by the e2e fixture. Pure: computes paths, never touches the disk.
Layout of a lab directory ``DIR`` (default ``/var/lib/balancerd-lab``, env ``BALANCERD_LAB_DIR``)::

    DIR/state.json            what `up` started (see state.py)
    DIR/balancerd.toml        a balancerd config for the lab
    DIR/balancerd/            that config's maintenance file, journal, pid and status files
    DIR/hostN/{etc,run,lib,log,cache}   bind-mounted over the libvirt dirs inside host N's namespaces
    DIR/hostN/hosts           bind-mounted over /etc/hosts inside host N
    DIR/shared/               bind-mounted at /var/lib/libvirt/shared on every host ("NFS")
    DIR/shared/boot/          guest kernel + initramfs (kept by `down`)
    DIR/consoles/NAME.log     guest serial consoles

Machine-wide (shared by every lab, kept by `down`): ``CACHE/kernel/current`` (extracted by
`scripts/install-lab-deps`) and ``CACHE/capcache`` (QEMU capabilities, copied into each new host so a
warm `up` skips the 7-8 s probe); CACHE defaults to /var/cache/balancerd-lab (env BALANCERD_LAB_CACHE).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

DEFAULT_DIR = Path("/var/lib/balancerd-lab")
DEFAULT_CACHE = Path("/var/cache/balancerd-lab")
ENV_DIR = "BALANCERD_LAB_DIR"
ENV_CACHE = "BALANCERD_LAB_CACHE"
NETNS_PREFIX = "bdlab"
MAX_HOSTS = 50
LIBVIRT_PORT = 16509
SHARED_MOUNT = Path("/var/lib/libvirt/shared")
BIND_TARGETS = {
    "etc": Path("/etc/libvirt"),
    "run": Path("/run/libvirt"),
    "lib": Path("/var/lib/libvirt"),
    "log": Path("/var/log/libvirt"),
    "cache": Path("/var/cache/libvirt"),
}


def lab_dir(arg: str | None) -> Path:
    """The lab directory: the ``--dir`` argument, else ``$BALANCERD_LAB_DIR``, else the default."""
    chosen = arg or os.environ.get(ENV_DIR) or str(DEFAULT_DIR)
    return Path(chosen).absolute()


def cache_dir() -> Path:
    """Where `scripts/install-lab-deps` put the guest kernel (``$BALANCERD_LAB_CACHE`` overrides)."""
    return Path(os.environ.get(ENV_CACHE) or str(DEFAULT_CACHE))


def capcache_dir() -> Path:
    """The QEMU capabilities cache shared by every lab on this machine."""
    return cache_dir() / "capcache"


def mgmt_ip(index: int) -> str:
    """Host N's address on the management network (libvirt TCP, p2p control)."""
    return f"10.77.0.{index}"


def mig_ip(index: int) -> str:
    """Host N's address on the dedicated migration network."""
    return f"10.77.1.{index}"


def host_name(index: int) -> str:
    return f"host{index}"


def host_uuid(index: int) -> str:
    """A distinct, stable libvirt host_uuid per host (SMBIOS is unreadable in the lab)."""
    return f"6c616230-0000-4000-8000-{index:012d}"


def p2p_uri(index: int) -> str:
    """The URI a source daemon (inside its namespace) uses to reach host N for p2p migration."""
    return f"qemu+tcp://{mgmt_ip(index)}/system"


def migration_uri(index: int) -> str:
    return f"tcp://{mig_ip(index)}"


@dataclass(frozen=True, slots=True)
class HostLayout:
    """The files of one lab host."""

    index: int
    root: Path

    @property
    def name(self) -> str:
        return host_name(self.index)

    def sub(self, key: str) -> Path:
        """The per-host dir bind-mounted over ``BIND_TARGETS[key]``."""
        return self.root / key

    @property
    def hosts_file(self) -> Path:
        return self.root / "hosts"

    @property
    def daemon_log(self) -> Path:
        return self.root / "libvirtd.out"

    @property
    def socket(self) -> Path:
        return self.sub("run") / "libvirt-sock"

    @property
    def qemu_pid_dir(self) -> Path:
        return self.sub("run") / "qemu"

    @property
    def capabilities_dir(self) -> Path:
        return self.sub("cache") / "qemu" / "capabilities"

    @property
    def uri(self) -> str:
        """The controller URI, usable from the root namespace."""
        return f"qemu+unix:///system?socket={self.socket}"


@dataclass(frozen=True, slots=True)
class LabLayout:
    """The files of one lab directory."""

    root: Path

    def host(self, index: int) -> HostLayout:
        return HostLayout(index, self.root / host_name(index))

    @property
    def state_file(self) -> Path:
        return self.root / "state.json"

    @property
    def config_file(self) -> Path:
        return self.root / "balancerd.toml"

    @property
    def balancerd_dir(self) -> Path:
        return self.root / "balancerd"

    @property
    def shared(self) -> Path:
        return self.root / "shared"

    @property
    def boot(self) -> Path:
        return self.shared / "boot"

    @property
    def consoles(self) -> Path:
        return self.root / "consoles"

    def console(self, guest: str) -> Path:
        return self.consoles / f"{guest}.log"


def netns_names(prefix: str, hosts: int) -> tuple[str, tuple[str, ...]]:
    """The switch namespace and the per-host namespaces of a lab whose names start with ``prefix``."""
    return f"{prefix}-sw", tuple(f"{prefix}-{host_name(i)}" for i in range(1, hosts + 1))
