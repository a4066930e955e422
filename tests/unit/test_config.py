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
    for section in ("policy", "throttle", "migration", "predict", "collect", "metrics", "logging", "sim", "paths"):
        assert getattr(shipped, section) == getattr(defaults, section), section
