"""The operator's cluster-wide switches in etcd: the maintenance set and the API pause.

:class:`balancerd.service.heads.Heads` reads and edits them. The maintenance set is one JSON key
(``<prefix>maintenance``: hosts in the order they entered, each with its ``force`` mark), edited by
compare-and-swap on its revision so two heads editing at once both land. The pause is one key
(``<prefix>pause``): present while an operator's ``balancerctl pause`` holds, on whichever head it was made.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

from balancerd.errors import CoordinationError
from balancerd.ha import etcd
from balancerd.ha.etcd import Etcd

Entries = tuple[tuple[str, bool], ...]
"""Hosts in maintenance in the order they entered it, with their ``force`` mark."""

_CAS_TRIES = 10


class SharedState:
    """The keys of one cluster under ``prefix``."""

    def __init__(self, client: Etcd, prefix: str) -> None:
        self._etcd = client
        self.maintenance_key = prefix + "maintenance"
        self.pause_key = prefix + "pause"

    def maintenance(self) -> Entries | None:
        """The set, or None when no head ever wrote one (the first head's file then seeds it)."""
        found = self._etcd.value(self.maintenance_key)
        return _entries(found.value, self.maintenance_key) if found is not None else None

    def edit_maintenance(self, added: Iterable[tuple[str, bool]], removed: Iterable[str]) -> Entries:
        """Add hosts at the end (or mark them forced in place), remove others; the set after the edit."""
        added, removed = tuple(added), frozenset(removed)
        for _ in range(_CAS_TRIES):
            found = self._etcd.value(self.maintenance_key)
            current = _entries(found.value, self.maintenance_key) if found is not None else ()
            wanted = _edited(current, added, removed)
            if wanted == current:
                return current
            revision = found.mod_revision if found is not None else 0
            result = self._etcd.txn([etcd.compare_modified(self.maintenance_key, revision)],
                                    [etcd.put(self.maintenance_key, _encoded(wanted))])
            if result.succeeded:
                return wanted
        raise CoordinationError(f"the maintenance set in etcd changed {_CAS_TRIES} times while it was being edited")

    def pause(self) -> dict[str, Any] | None:
        """The pause as it was written (``by``, ``at``, ``abort_running``), or None; an unreadable key is a
        pause too (by "an unreadable pause key in etcd"): the safe reading."""
        found = self._etcd.value(self.pause_key)
        if found is None:
            return None
        try:
            data = json.loads(found.value)
            return {"by": str(data["by"]), "at": float(data["at"]), "abort_running": bool(data.get("abort_running"))}
        except (ValueError, KeyError, TypeError):
            return {"by": f"an unreadable pause key in etcd ({self.pause_key})", "at": 0.0, "abort_running": False}

    def set_pause(self, pause: dict[str, Any] | None) -> None:
        if pause is None:
            self._etcd.remove(self.pause_key)
        else:
            self._etcd.write(self.pause_key, json.dumps(pause).encode())


def _edited(current: Entries, added: tuple[tuple[str, bool], ...], removed: frozenset[str]) -> Entries:
    kept = [(host, force) for host, force in current if host not in removed]
    for host, force in added:
        where = next((i for i, (name, _) in enumerate(kept) if name == host), None)
        if where is None:
            kept.append((host, force))
        elif force:
            kept[where] = (host, True)
    return tuple(kept)


def _entries(raw: bytes, key: str) -> Entries:
    try:
        return tuple((str(item["host"]), bool(item.get("force", False))) for item in json.loads(raw))
    except (ValueError, KeyError, TypeError) as exc:
        raise CoordinationError(f"the maintenance set in etcd is not readable ({exc}); delete it "
                                f"(etcdctl del {key}) and the next head's maintenance file seeds it again") from exc


def _encoded(entries: Entries) -> bytes:
    return json.dumps([{"host": host, "force": force} for host, force in entries]).encode()
