"""Unit tests of the per-host generators (libvirtd.conf, qemu.conf, hosts file, XML, daemon script)."""

from __future__ import annotations

import shlex
import xml.etree.ElementTree as ET
from pathlib import Path

from balancerd.lab import hostconf, paths
from balancerd.lab.hostconf import CgroupMount


def _keys(conf: str) -> dict[str, str]:
    pairs = [line.split("=", 1) for line in conf.splitlines() if "=" in line and not line.startswith("#")]
    return {k.strip(): v.strip() for k, v in pairs}


def test_libvirtd_conf_listens_on_the_hosts_own_address_without_auth() -> None:
    keys = _keys(hostconf.libvirtd_conf(2))
    assert keys["listen_addr"] == '"10.77.0.2"'
    assert keys["listen_tcp"] == "1" and keys["listen_tls"] == "0"
    assert keys["auth_tcp"] == keys["auth_unix_rw"] == '"none"'
    assert keys["tcp_port"] == '"16509"'


def test_libvirtd_conf_host_uuids_differ_per_host() -> None:
    uuids = {_keys(hostconf.libvirtd_conf(i))["host_uuid"] for i in range(1, 11)}
    assert len(uuids) == 10
    assert all(len(u.strip('"')) == 36 for u in uuids)


def test_qemu_conf_runs_qemu_as_root_with_file_logs_and_migration_host() -> None:
    keys = _keys(hostconf.qemu_conf(3, ["cpu", "cpuacct"]))
    assert keys["user"] == keys["group"] == '"root"'
    assert keys["security_driver"] == '"none"'
    assert keys["stdio_handler"] == '"file"'
    assert keys["migration_host"] == '"10.77.0.3"'
    assert keys["cgroup_controllers"] == '[ "cpu", "cpuacct" ]'


def test_qemu_conf_without_cgroups_has_an_empty_controller_list() -> None:
    assert _keys(hostconf.qemu_conf(1, []))["cgroup_controllers"] == "[  ]"


def test_hosts_file_names_every_host_on_both_networks() -> None:
    lines = hostconf.hosts_file(3).splitlines()
    assert lines[0].split() == ["127.0.0.1", "localhost"]
    assert ["10.77.0.3", "host3"] in [line.split() for line in lines]
    assert ["10.77.1.2", "host2-mig"] in [line.split() for line in lines]
    assert len(lines) == 1 + 2 * 3


def test_network_and_pool_xml_parse() -> None:
    net = ET.fromstring(hostconf.bridge_network_xml("prod", "vmbr0"))
    assert net.findtext("name") == "prod"
    assert net.find("forward").get("mode") == "bridge"  # type: ignore[union-attr]
    assert net.find("bridge").get("name") == "vmbr0"  # type: ignore[union-attr]
    pool = ET.fromstring(hostconf.dir_pool_xml("shared", Path("/var/lib/libvirt/shared")))
    assert pool.get("type") == "dir" and pool.findtext("target/path") == "/var/lib/libvirt/shared"


def test_every_host_has_prod_and_its_own_site_network() -> None:
    assert hostconf.networks(2) == (("prod", "vmbr0"), ("site-h2", "vmbr-h2"))
    assert all(len(bridge) <= 15 for _, bridge in hostconf.networks(paths.MAX_HOSTS))


def test_daemon_script_joins_cgroups_then_execs_into_the_namespace() -> None:
    host = paths.LabLayout(Path("/lab")).host(2)
    mounts = [CgroupMount(Path("/sys/fs/cgroup/cpu"), "cpu")]
    script = hostconf.daemon_script(host, Path("/lab/shared"), mounts, "bdlab-host2")
    assert "echo $$ > /sys/fs/cgroup/cpu/bdlab-host2/cgroup.procs" in script
    assert "exec ip netns exec bdlab-host2 unshare --mount --uts --cgroup" in script
    for inner in ("hostname host2", "mount --bind /lab/host2/run /run/libvirt",
                  "mount --bind /lab/host2/hosts /etc/hosts", "mount -t cgroup -o cpu cgroup",
                  "mount --bind /lab/shared /var/lib/libvirt/shared", "exec tini -s -g -- /usr/sbin/libvirtd"):
        assert inner in script


def test_daemon_script_without_cgroups_does_not_touch_them() -> None:
    host = paths.LabLayout(Path("/lab")).host(1)
    script = hostconf.daemon_script(host, Path("/lab/shared"), [], "bdlab-host1")
    assert "cgroup" not in script
    assert "unshare --mount --uts --propagation private" in script


def test_daemon_script_quotes_paths_with_spaces() -> None:
    host = paths.LabLayout(Path("/my lab")).host(1)
    script = hostconf.daemon_script(host, Path("/my lab/shared"), [], "bdlab-host1")
    inner = shlex.split(script[script.index("exec ip netns"):])[-1]
    mounts = [shlex.split(line) for line in inner.splitlines() if line.startswith("mount --bind")]
    assert ["mount", "--bind", "/my lab/host1/etc", "/etc/libvirt"] in mounts
    assert ["mount", "--bind", "/my lab/shared", "/var/lib/libvirt/shared"] in mounts
