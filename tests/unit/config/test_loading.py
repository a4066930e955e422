"""config.loading: numbers must be finite, for every float key of the schema, through the one converter."""

from __future__ import annotations

import dataclasses
import math
import typing
from pathlib import Path
from typing import Any

import pytest

from balancerd import cli, config
from balancerd.errors import ConfigError


def _float_keys(cls: type[Any], prefix: str = "") -> list[str]:
    """Every float key of the schema's tables (arrays of tables aside), dotted."""
    keys: list[str] = []
    hints = typing.get_type_hints(cls)
    for spec in dataclasses.fields(cls):
        hint = hints[spec.name]
        if spec.metadata.get("internal"):
            continue
        if isinstance(hint, type) and dataclasses.is_dataclass(hint):
            keys += _float_keys(hint, f"{prefix}{spec.name}.")
        elif hint is float:
            keys.append(prefix + spec.name)
    return keys


def _table(key: str, value: object) -> dict[str, Any]:
    *sections, name = key.split(".")
    table: dict[str, Any] = {name: value}
    for section in reversed(sections):
        table = {section: table}
    return table


FLOAT_KEYS = _float_keys(config.Config)


def test_the_schema_has_float_keys_in_several_tables() -> None:
    assert {"interval_s", "sim.speed", "policy.min_gain", "throttle.deadline_s"} <= set(FLOAT_KEYS)


@pytest.mark.parametrize("key", FLOAT_KEYS)
@pytest.mark.parametrize("value", [math.nan, math.inf, -math.inf])
def test_no_float_key_takes_nan_or_infinity(key: str, value: float) -> None:
    with pytest.raises(ConfigError) as info:
        config.from_table(_table(key, value), Path("/etc/balancerd"))
    assert info.value.key == key and "finite number" in str(info.value)


def test_finite_floats_still_load() -> None:
    loaded = config.from_table({"interval_s": 30.5, "policy": {"min_gain": 0.0}}, Path("/etc/balancerd"))
    assert (loaded.interval_s, loaded.policy.min_gain) == (30.5, 0.0)


def test_huge_integers_are_out_of_range_not_a_crash() -> None:
    with pytest.raises(ConfigError, match="allowed range"):
        config.from_table({"sim": {"hosts": 10**400}}, Path("/etc/balancerd"))


def test_interval_nan_exits_78_from_plan(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "nan.toml"
    path.write_text("interval_s = nan\n")
    assert cli.main(["plan", "--config", str(path)]) == 78
    err = capsys.readouterr().err
    assert "'interval_s'" in err and "nan" in err and "Traceback" not in err
