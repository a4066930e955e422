"""A TOML file or table into a validated :class:`~balancerd.config.schema.Config`.

Called through :mod:`balancerd.config` by the CLI (``balancerd run|plan|simulate``, ``balancerctl``) and by the
daemon on SIGHUP. Walks the schema's dataclasses, converting and bounding every value from its
:func:`~balancerd.config.fields.opt` metadata (a float is also refused when it is NaN or infinite), after
:mod:`~balancerd.config.removed` has refused keys of older releases; a described cluster file (``[sim]
cluster``) is read by :mod:`~balancerd.config.cluster` with the same converter; then
:mod:`~balancerd.config.checks` looks across keys. Every problem raises :class:`~balancerd.errors.ConfigError`
naming the key, the value and what is allowed (exit 78). Relative paths are resolved against the directory of
the config file.
"""

from __future__ import annotations

import dataclasses
import math
import os
import stat
import tomllib
import types
import typing
from pathlib import Path
from typing import Any, TypeVar

from balancerd.config import checks, removed
from balancerd.config.schema import Config
from balancerd.errors import ConfigError

_T = TypeVar("_T")


def load(path: Path) -> Config:
    """Read and validate ``path``; raise ConfigError on anything wrong."""
    return from_table(read_toml(path), base=path.resolve().parent, source=path)


def read_toml(path: Path, key: str = "<file>", what: str = "config file") -> dict[str, Any]:
    """The TOML table in ``path``; ConfigError under ``key`` when it is missing, not regular, not UTF-8 TOML."""
    raw = _read_regular(path, key, what)
    try:
        return tomllib.loads(raw.decode("utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError, ValueError) as exc:
        raise ConfigError(key, str(path), f"the {what} must be valid UTF-8 TOML: {exc}") from exc
    except RecursionError as exc:
        raise ConfigError(key, str(path), f"the {what} nests arrays or tables too deeply") from exc


def _read_regular(path: Path, key: str, what: str) -> bytes:
    """The file's bytes; only a regular file is read, so a FIFO can never block a start or a reload."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    except OSError as exc:
        raise ConfigError(key, str(path), f"the {what} must exist and be readable ({exc.strerror})") from exc
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise ConfigError(key, str(path), f"the {what} must be a regular file (not a FIFO, device or "
                              "directory)")
        if info.st_size > _MAX_BYTES:
            raise ConfigError(key, str(path), f"the {what} has {info.st_size} bytes; at most {_MAX_BYTES}")
        return os.read(fd, _MAX_BYTES + 1)
    except OSError as exc:
        raise ConfigError(key, str(path), f"the {what} must be readable ({exc.strerror})") from exc
    finally:
        os.close(fd)


_MAX_BYTES = 4 << 20


def from_table(table: dict[str, Any], base: Path, source: Path = Path("<table>")) -> Config:
    """Build a Config from an already parsed TOML table."""
    removed.refuse(table)
    config = build(Config, table, "", base)
    config = dataclasses.replace(config, source=source)
    if config.backend == "sim" and config.sim.cluster is not None:
        from balancerd.config import cluster  # the cluster file's reader builds its tables with this module

        config = cluster.apply(config, table.get("sim", {}))
    checks.check(config)
    return config


def build(cls: type[_T], table: object, prefix: str, base: Path) -> _T:
    """A ``cls`` from a parsed TOML table: unknown and missing required keys refused, every value converted."""
    if not isinstance(table, dict):
        raise ConfigError(prefix.rstrip(".") or "<root>", table, "expected a table")
    fields = {f.name: f for f in dataclasses.fields(cls) if not f.metadata.get("internal")}  # type: ignore[arg-type]
    hints = typing.get_type_hints(cls)
    values: dict[str, Any] = {}
    for key, value in table.items():
        if key not in fields:
            allowed = f"unknown key; allowed keys here: {', '.join(sorted(fields))}"
            raise ConfigError(prefix + key, value, allowed)
        values[key] = _convert(hints[key], fields[key], value, prefix + key, base)
    for name, spec in fields.items():
        if spec.metadata.get("required") and name not in table:
            raise ConfigError(prefix + name, "(missing)", f"'{name}' is required here; add it")
    return cls(**values)


def _convert(hint: Any, spec: dataclasses.Field[Any], value: object, key: str, base: Path) -> Any:
    if isinstance(hint, types.UnionType):  # ``X | None``: None is only the default, never written
        hint = next(arg for arg in typing.get_args(hint) if arg is not type(None))
    if isinstance(hint, type) and dataclasses.is_dataclass(hint):
        return build(hint, value, key + ".", base)
    if typing.get_origin(hint) is tuple:
        item_cls = typing.get_args(hint)[0]
        if item_cls is str:
            return _strings(value, key)
        if item_cls is int:
            return _integers(value, key)
        if typing.get_origin(item_cls) is tuple:
            return _amounts(value, key)
        if not isinstance(value, list):
            raise ConfigError(key, value, "expected an array of tables ([[" + key + "]])")
        return tuple(build(item_cls, item, f"{key}[{i}].", base) for i, item in enumerate(value))
    return _scalar(hint, spec.metadata, value, key, base)


def _strings(value: object, key: str) -> tuple[str, ...]:
    if not isinstance(value, list) or not all(isinstance(item, str) and item for item in value):
        raise ConfigError(key, value, "expected an array of non-empty strings")
    return tuple(value)


def _amounts(value: object, key: str) -> tuple[tuple[str, int], ...]:
    """A table of names to non-negative integers, as sorted (name, amount) pairs."""
    if not isinstance(value, dict):
        raise ConfigError(key, value, "expected a table of names to non-negative integers, e.g. { images = 20000 }")
    for name, amount in value.items():
        if not name or not isinstance(amount, int) or isinstance(amount, bool) or not 0 <= amount <= _LARGEST:
            raise ConfigError(f"{key}.{name}", amount, "expected a non-negative integer under a non-empty name")
    return tuple(sorted(value.items()))


def _integers(value: object, key: str) -> tuple[int, ...]:
    if not isinstance(value, list) or not all(isinstance(i, int) and not isinstance(i, bool) and i > 0
                                              for i in value):
        raise ConfigError(key, value, "expected an array of positive integers")
    return tuple(value)


def _scalar(hint: Any, meta: Any, value: object, key: str, base: Path) -> Any:
    if hint is bool:
        if not isinstance(value, bool):
            raise ConfigError(key, value, "expected true or false")
        return value
    if hint is int or hint is float:
        return _number(hint, meta, value, key)
    if hint is Path:
        if not isinstance(value, str) or not value:
            raise ConfigError(key, value, "expected a non-empty path string")
        path = Path(value)
        return path if path.is_absolute() else (base / path)
    if hint is str:
        if not isinstance(value, str):
            raise ConfigError(key, value, "expected a string")
        choices = meta.get("choices")
        if choices and value not in choices:
            raise ConfigError(key, value, f"allowed values: {', '.join(choices)}")
        return value
    raise ConfigError(key, value, f"unsupported type {hint!r}")  # pragma: no cover


_LARGEST = 2**63
"""No config number comes near this; larger integers are refused before float() overflows or str() balks."""


def _number(hint: type, meta: Any, value: object, key: str) -> int | float:
    ok = isinstance(value, int) and not isinstance(value, bool)
    if hint is float:
        ok = ok or isinstance(value, float)
    if not ok:
        raise ConfigError(key, value, "expected an integer" if hint is int else "expected a number")
    if isinstance(value, int) and abs(value) > _LARGEST:
        raise ConfigError(key, f"an integer of {value.bit_length()} bits",
                          f"allowed range: {_fmt(meta.get('lo'))} to {_fmt(meta.get('hi'))}")
    number = hint(value)
    lo, hi = meta.get("lo"), meta.get("hi")
    if isinstance(number, float) and not math.isfinite(number):
        raise ConfigError(key, value, f"expected a finite number; allowed range: {_fmt(lo)} to {_fmt(hi)}")
    if (lo is not None and number < lo) or (hi is not None and number > hi):
        raise ConfigError(key, value, f"allowed range: {_fmt(lo)} to {_fmt(hi)}")
    return number  # type: ignore[no-any-return]


def _fmt(bound: float | None) -> str:
    return "unbounded" if bound is None else f"{bound:g}"
