"""config: every invalid config names the key, the value and what is allowed."""

from __future__ import annotations

from pathlib import Path

import pytest

from balancerd import config
from balancerd.errors import ConfigError

REPO = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize(
    ("table", "key", "fragment"),
    [
        ({"mdoe": "enforce"}, "mdoe", "unknown key"),
        ({"mode": "yolo"}, "mode", "recommend, enforce"),
        ({"interval_s": "fast"}, "interval_s", "expected a number"),
        ({"interval_s": 0}, "interval_s", "allowed range"),
        ({"sim": {"hosts": 0}}, "sim.hosts", "allowed range: 1 to"),
        ({"sim": {"hosts": 2.5}}, "sim.hosts", "expected an integer"),
        ({"sim": {"hostz": 3}}, "sim.hostz", "allowed keys here"),
        ({"sim": 3}, "sim", "expected a table"),
        ({"throttle": {"allow_unsafe": "yes"}}, "throttle.allow_unsafe", "true or false"),
        ({"policy": {"headroom_pct": 95}}, "policy.headroom_pct", "0 to 90"),
        ({"hosts": {"name": "a"}}, "hosts", "array of tables"),
        ({"hosts": [{"name": ""}]}, "hosts[0].name", "non-empty"),
        ({"hosts": [{"name": "a"}, {"name": "a"}]}, "hosts", "unique"),
        ({"backend": "libvirt"}, "hosts", "at least one"),
        ({"backend": "libvirt", "hosts": [{"name": "a"}]}, "hosts[0].uri", "needs a URI"),
        ({"paths": {"journal": ""}}, "paths.journal", "non-empty path"),
    ],
)
def test_invalid_tables_name_the_key(table: dict[str, object], key: str, fragment: str) -> None:
    with pytest.raises(ConfigError) as info:
        config.from_table(table, Path("/etc/balancerd"))
    assert info.value.key == key
    assert fragment in str(info.value)
    assert repr(info.value.value) in str(info.value)


def test_defaults_and_relative_paths(tmp_path: Path) -> None:
    path = tmp_path / "b.toml"
    path.write_text('mode = "enforce"\n[paths]\njournal = "state/j.sqlite"\n')
    loaded = config.load(path)
    assert loaded.mode == "enforce"
    assert loaded.paths.journal == tmp_path / "state" / "j.sqlite"
    assert loaded.policy == config.PolicyConfig()
    assert loaded.source == path


def test_missing_file_and_bad_toml(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="must exist and be readable"):
        config.load(tmp_path / "nope.toml")
    bad = tmp_path / "bad.toml"
    bad.write_text("mode = \n")
    with pytest.raises(ConfigError, match="valid UTF-8 TOML"):
        config.load(bad)


@pytest.mark.parametrize("name", ["balancerd.toml", "demo.toml", "what-if-demo.toml"])
def test_shipped_configs_are_valid(name: str) -> None:
    loaded = config.load(REPO / "config" / name)
    assert loaded.metrics.address == "127.0.0.1"


def test_documented_defaults_match_the_code() -> None:
    shipped = config.load(REPO / "config" / "balancerd.toml")
    defaults = config.Config()
    for section in ("policy", "optimizer", "throttle", "migration", "predict", "collect", "metrics", "logging", "sim",
                    "paths"):
        assert getattr(shipped, section) == getattr(defaults, section), section


def test_ha_endpoints_are_read() -> None:
    loaded = config.from_table({"ha": {"etcd_endpoints": ["http://10.0.0.5:2379", "https://[fd00::1]:2379/"],
                                       "name": "head1", "prefix": "/cluster-a/"}}, Path("."))
    assert loaded.ha.etcd_endpoints == ("http://10.0.0.5:2379", "https://[fd00::1]:2379/")
    assert (loaded.ha.name, loaded.ha.prefix, loaded.ha.enabled) == ("head1", "/cluster-a/", True)
    assert not config.Config().ha.enabled


def test_ha_with_https_a_ca_and_a_client_certificate_is_valid(tmp_path: Path) -> None:
    files = {key: str(tmp_path / f"{key}.pem") for key in ("ca_file", "cert_file", "key_file")}
    for path in files.values():
        Path(path).write_text("-----BEGIN CERTIFICATE-----\n")
    loaded = config.from_table({"ha": {"etcd_endpoints": ["https://etcd1.example:2379"], **files}}, Path("."))
    assert (loaded.ha.ca_file, loaded.ha.cert_file, loaded.ha.key_file) == tuple(files.values())


@pytest.mark.parametrize("key", ["ca_file", "cert_file"])
def test_ha_tls_file_that_does_not_exist_is_refused_by_name(tmp_path: Path, key: str) -> None:
    present = str(tmp_path / "present.pem")
    Path(present).write_text("x")
    table = {"etcd_endpoints": ["https://etcd1.example:2379"], "cert_file": present, "key_file": present,
             key: str(tmp_path / "missing.pem")}
    with pytest.raises(ConfigError) as info:
        config.from_table({"ha": table}, Path("."))
    assert info.value.key == f"ha.{key}" and "exists" in str(info.value)


@pytest.mark.parametrize("url", ["10.0.0.5:2379", "ftp://10.0.0.5:2379", "http://10.0.0.5", "http://:2379",
                                 "http://10.0.0.5:0", "http://10.0.0.5:65536", "http://10.0.0.5:port"])
def test_ha_bad_endpoint_names_its_key(url: str) -> None:
    with pytest.raises(ConfigError) as info:
        config.from_table({"ha": {"etcd_endpoints": [url, "http://10.0.0.6:2379"]}}, Path("."))
    assert info.value.key == "ha.etcd_endpoints[0]"
    assert repr(url) in str(info.value) and "http://10.0.0.5:2379" in str(info.value)
    with pytest.raises(ConfigError) as second:
        config.from_table({"ha": {"etcd_endpoints": ["http://10.0.0.6:2379", url]}}, Path("."))
    assert second.value.key == "ha.etcd_endpoints[1]"


@pytest.mark.parametrize(("given", "key"), [({"cert_file": "/etc/c.pem"}, "ha.key_file"),
                                           ({"key_file": "/etc/c.key"}, "ha.cert_file")])
def test_ha_client_certificate_needs_its_key(given: dict[str, str], key: str) -> None:
    with pytest.raises(ConfigError, match=r"both ha\.cert_file and ha\.key_file") as info:
        config.from_table({"ha": {"etcd_endpoints": ["https://etcd1.example:2379"], **given}}, Path("."))
    assert info.value.key == key


def test_ha_ca_file_with_only_http_endpoints_is_refused() -> None:
    with pytest.raises(ConfigError, match="for https:// endpoints") as info:
        config.from_table({"ha": {"etcd_endpoints": ["http://10.0.0.5:2379"], "ca_file": "/etc/ca.pem"}}, Path("."))
    assert info.value.key == "ha.etcd_endpoints"


@pytest.mark.parametrize("prefix", ["/balancerd", "balancerd/", ""])
def test_ha_prefix_must_start_and_end_with_a_slash(prefix: str) -> None:
    with pytest.raises(ConfigError, match="starts and ends with '/'") as info:
        config.from_table({"ha": {"etcd_endpoints": ["http://10.0.0.5:2379"], "prefix": prefix}}, Path("."))
    assert info.value.key == "ha.prefix"
