"""config.removed: a config that still sets a key of an older release is refused, naming what replaces it."""

from __future__ import annotations

from pathlib import Path

import pytest

from balancerd import cli, config
from balancerd.config.removed import REMOVED
from balancerd.errors import ConfigError


@pytest.mark.parametrize(
    ("section", "key", "replacement"),
    [
        ("sim", "bandwidth_mib_s", "'[migration] link_mib_s'"),
        ("policy", "migration_bandwidth_mib_s", "'[migration] link_mib_s'"),
        ("throttle", "bandwidth_mib_s", "'[migration] bandwidth_mib_s'"),
        ("throttle", "max_downtime_ms", "'[migration] downtime_schedule_ms'"),
    ],
)
def test_a_removed_key_names_its_replacement(section: str, key: str, replacement: str) -> None:
    with pytest.raises(ConfigError) as info:
        config.from_table({section: {key: 62}}, Path("/etc/balancerd"))
    assert info.value.key == f"{section}.{key}" and info.value.value == 62
    assert "was removed" in str(info.value) and replacement in str(info.value)


def test_every_removed_key_is_really_gone() -> None:
    for section, key in REMOVED:
        table = getattr(config.Config(), section)
        assert not hasattr(table, key), f"{section}.{key} is listed as removed but still exists"


def test_an_old_config_exits_78_from_plan(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "old.toml"
    path.write_text("[policy]\nmigration_bandwidth_mib_s = 62\n")
    assert cli.main(["plan", "--config", str(path)]) == 78
    err = capsys.readouterr().err
    assert "'policy.migration_bandwidth_mib_s'" in err and "'[migration] link_mib_s'" in err
