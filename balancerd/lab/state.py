"""The lab's record of what it started: ``DIR/state.json``.

Written by lifecycle.py step by step during `up` (so a failed or interrupted `up` can still be torn
down), read by `status` and `down`, deleted at the end of `down`. Frozen values in memory, JSON on disk.
"""

from __future__ import annotations

import dataclasses
import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from balancerd.lab.errors import LabError

VERSION = 1


@dataclass(frozen=True, slots=True)
class HostState:
    """One lab host: its namespace, cgroup subtrees and daemon PID (0 until started)."""

    index: int
    name: str
    netns: str
    cgroups: tuple[str, ...] = ()
    pid: int = 0


@dataclass(frozen=True, slots=True)
class LabState:
    """The whole lab."""

    dir: str
    prefix: str
    switch_netns: str
    hosts: tuple[HostState, ...] = ()
    virt: str = ""
    guests: tuple[str, ...] = ()
    config: str = ""
    ready: bool = False
    version: int = VERSION
    extra: dict[str, Any] = field(default_factory=dict)

    def with_host(self, host: HostState) -> LabState:
        """A copy where the host with the same index is replaced (or added)."""
        others = tuple(h for h in self.hosts if h.index != host.index)
        return dataclasses.replace(self, hosts=tuple(sorted((*others, host), key=lambda h: h.index)))


def to_json(state: LabState) -> str:
    return json.dumps(dataclasses.asdict(state), indent=2, sort_keys=True) + "\n"


def from_json(text: str) -> LabState:
    """Parse state.json; LabError if it is not one this version wrote."""
    try:
        raw = json.loads(text)
        hosts = tuple(HostState(**{**h, "cgroups": tuple(h.get("cgroups", ()))}) for h in raw.pop("hosts"))
        raw["guests"] = tuple(raw.get("guests", ()))
        return LabState(hosts=hosts, **raw)
    except (ValueError, TypeError, KeyError) as exc:
        raise LabError(f"unreadable lab state: {exc}") from exc


def save(path: Path, state: LabState) -> None:
    """Write atomically (a crash leaves the old or the new file, never half of one)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(to_json(state))
    os.replace(tmp, path)


def load(path: Path) -> LabState | None:
    """The state in ``path``, or None when no lab is recorded there."""
    try:
        text = path.read_text()
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise LabError(f"cannot read {path}: {exc.strerror}") from exc
    return from_json(text)
