"""config.cluster: a described cluster file ([sim] cluster) read when the config loads; every bad file exits 78
with the file, the entry and the key named."""

from __future__ import annotations

from pathlib import Path

import pytest

from balancerd import cli, config
from balancerd.config import ClusterHostConfig, ClusterVmConfig, RuleConfig
from balancerd.errors import ConfigError

GOOD = """
[[hosts]]
name = "h1"
cpus = 16
memory_mib = 65536
networks = ["prod"]
maintenance = true
pools = { images = 500000 }
resources = { vcpu = 64 }

[[hosts]]
name = "h2"
cpus = 8
memory_mib = 32768

[[vms]]
name = "web1"
host = "h1"
vcpus = 2
memory_mib = 4096
cpu_pct = 40
disks = { images = 20000 }
resources = { vcpu = 2 }
networks = ["prod"]

[[rules]]
kind = "anti_affinity"
vms = ["web*"]
"""

CONFIG = """
backend = "sim"
[sim]
cluster = "{cluster}"
{extra}
[[policy.rules]]
kind = "pin"
vms = ["db*"]
"""


def _load(tmp_path: Path, cluster: str = GOOD, extra: str = "", name: str = "cluster.toml") -> config.Config:
    (tmp_path / name).write_text(cluster)
    path = tmp_path / "balancerd.toml"
    path.write_text(CONFIG.format(cluster=name, extra=extra))
    return config.load(path)


def test_a_file_loads_into_its_hosts_vms_and_rules(tmp_path: Path) -> None:
    loaded = _load(tmp_path)
    described = loaded.sim.described
    assert described is not None and described.source == tmp_path / "cluster.toml"
    assert loaded.sim.cluster == tmp_path / "cluster.toml"  # relative to the config file's folder
    assert described.hosts == (
        ClusterHostConfig("h1", 16, 65536, networks=("prod",), maintenance=True, pools=(("images", 500000),),
                          resources=(("vcpu", 64),)),
        ClusterHostConfig("h2", 8, 32768))
    assert described.vms == (ClusterVmConfig("web1", "h1", 2, 4096, cpu_pct=40.0, networks=("prod",),
                                             disks=(("images", 20000),), resources=(("vcpu", 2),)),)
    assert described.maintenance == frozenset({"h1"})


def test_the_file_s_rules_are_appended_to_the_policy_rules(tmp_path: Path) -> None:
    assert _load(tmp_path).policy.rules == (RuleConfig("pin", vms=("db*",)), RuleConfig("anti_affinity", vms=("web*",)))


def test_a_libvirt_config_does_not_read_the_cluster_file(tmp_path: Path) -> None:
    path = tmp_path / "balancerd.toml"
    path.write_text('backend = "libvirt"\n[sim]\ncluster = "absent.toml"\n[[hosts]]\nname = "h1"\n'
                    'uri = "qemu+tcp://h1/system"\n')
    assert config.load(path).sim.described is None


def _host(**changes: object) -> str:
    lines = {"name": '"h1"', "cpus": "4", "memory_mib": "8192", **{k: str(v) for k, v in changes.items()}}
    return "[[hosts]]\n" + "".join(f"{k} = {v}\n" for k, v in lines.items() if v != "DROP")


def _vm(**changes: object) -> str:
    lines = {"name": '"vm1"', "host": '"h1"', "vcpus": "1", "memory_mib": "1024",
             **{k: str(v) for k, v in changes.items()}}
    return "[[vms]]\n" + "".join(f"{k} = {v}\n" for k, v in lines.items() if v != "DROP")


BAD = [
    pytest.param(_host(memory_mib="DROP"), "hosts[0] (h1).memory_mib", "'memory_mib' is required", id="missing-key"),
    pytest.param(_host() + _vm(vcpus="DROP"), "vms[0] (vm1).vcpus", "'vcpus' is required", id="missing-vm-key"),
    pytest.param(_host(ram=4), "hosts[0] (h1).ram", "unknown key; allowed keys here: cpu_group", id="unknown-key"),
    pytest.param(_host() + "[[disks]]\nname = 'x'\n", "disks", "unknown key; a cluster file holds hosts, vms, rules",
                 id="unknown-table"),
    pytest.param(_host(cpus='"many"'), "hosts[0] (h1).cpus", "expected an integer", id="wrong-type"),
    pytest.param(_host(cpus=0), "hosts[0] (h1).cpus", "allowed range: 1 to", id="out-of-range"),
    pytest.param(_host(networks='"prod"'), "hosts[0] (h1).networks", "array of non-empty strings", id="not-a-list"),
    pytest.param(_host(pools="{ images = -1 }"), "hosts[0] (h1).pools.images", "non-negative integer",
                 id="negative-pool"),
    pytest.param(_host(pools='"images"'), "hosts[0] (h1).pools", "table of names", id="pools-not-a-table"),
    pytest.param(_host() + _vm(cpu_pct=150), "vms[0] (vm1).cpu_pct", "allowed range: 0 to 100", id="cpu-pct"),
    pytest.param(_host() + _vm(cpu_mode='"fast"'), "vms[0] (vm1).cpu_mode", "allowed values", id="cpu-mode"),
    pytest.param(_host() + _vm(host='"h9"'), "vms[0] (vm1).host", "no [[hosts]] entry has this name (hosts: h1)",
                 id="unknown-host"),
    pytest.param(_host() + _host(), "hosts[1].name", "names must be unique; hosts[0] has it too", id="dup-host"),
    pytest.param(_host() + _vm() + _vm(), "vms[1].name", "names must be unique; vms[0] has it too", id="dup-vm"),
    pytest.param(_host(name='""'), "hosts[0].name", "non-empty name", id="empty-name"),
    pytest.param("", "hosts", "at least one [[hosts]] entry", id="no-hosts"),
    pytest.param(_host() + _vm(disks="{ fast = 10 }"), "vms[0] (vm1).disks.fast",
                 "host h1 has no pool 'fast' (its pools: none)", id="disk-in-absent-pool"),
    pytest.param(_host() + _vm(resources="{ gpu = 1 }"), "vms[0] (vm1).resources.gpu",
                 "host h1 has no resource 'gpu'", id="undeclared-resource"),
    pytest.param(_host(resources="{ cpu_m = 1 }"), "hosts[0] (h1).resources.cpu_m", "may not be cpu_m",
                 id="reserved-resource"),
    pytest.param(_host() + "[[rules]]\nkind = 'must'\nvms = ['vm1']\n", "rules[0].hosts",
                 "a 'must' rule needs at least one host", id="rule-without-hosts"),
    pytest.param(_host() + "[[rules]]\nkind = 'near'\nvms = ['vm1']\n", "rules[0].kind", "allowed values",
                 id="rule-kind"),
    pytest.param("hosts = 3\n", "hosts", "expected an array of tables ([[hosts]])", id="hosts-not-tables"),
    pytest.param("= broken", "sim.cluster", "must be valid UTF-8 TOML", id="not-toml"),
]


@pytest.mark.parametrize(("content", "key", "message"), BAD)
def test_a_bad_file_names_the_file_the_entry_and_the_key(tmp_path: Path, content: str, key: str,
                                                         message: str) -> None:
    with pytest.raises(ConfigError) as info:
        _load(tmp_path, content)
    file = str(tmp_path / "cluster.toml")
    assert info.value.key in (f"{file}: {key}", key), info.value.key
    assert file in str(info.value) and message in str(info.value), str(info.value)


def test_a_missing_file_is_named(tmp_path: Path) -> None:
    path = tmp_path / "balancerd.toml"
    path.write_text('[sim]\ncluster = "absent.toml"\n')
    with pytest.raises(ConfigError, match=r"cluster file .* must exist and be readable") as info:
        config.load(path)
    assert info.value.key == "sim.cluster" and info.value.value == str(tmp_path / "absent.toml")


@pytest.mark.parametrize("key", ["hosts = 3", "vms = 10", "seed = 2", "skew = 0.5", "host_mem_mib = 1024",
                                 "host_cpu_m = 1000", "trace = 'bundled'"])
def test_a_seeded_key_beside_cluster_is_an_error_naming_both(tmp_path: Path, key: str) -> None:
    with pytest.raises(ConfigError, match=r"not used with sim.cluster .* remove sim\.\w+ or sim.cluster") as info:
        _load(tmp_path, extra=key)
    assert info.value.key == f"sim.{key.split()[0]}"


def test_speed_still_applies_beside_cluster(tmp_path: Path) -> None:
    assert _load(tmp_path, extra="speed = 50.0").sim.speed == 50.0


def test_the_cli_exits_78_with_one_message_and_no_traceback(tmp_path: Path,
                                                            capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "cluster.toml").write_text(_host() + _vm(host='"nowhere"'))
    path = tmp_path / "balancerd.toml"
    path.write_text(CONFIG.format(cluster="cluster.toml", extra=""))
    assert cli.main(["plan", "--config", str(path)]) == 78
    err = capsys.readouterr().err
    assert "vms[0] (vm1).host" in err and "nowhere" in err and "Traceback" not in err
