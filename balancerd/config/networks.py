"""The shape and the one reading of ``[[network_map]]``: which network or bridge a guest's NIC uses on a host.

Part of the configuration's shape (:class:`balancerd.config.schema.Config` holds the rows). Read by the
executor's pre-flight and the collector (:func:`network_pairs`) and by ``balancerd import``
(:func:`foreign_network`).
"""

from __future__ import annotations

import fnmatch
from dataclasses import dataclass

from balancerd.config.fields import opt

SOURCE_KINDS = ("libvirt", "vmware", "hyperv", "foreign")
"""What a ``[[network_map]]`` row's ``source`` names: a libvirt network or bridge of another host (migration
across networks), a VMware port group or OVF network, a Hyper-V virtual switch (``balancerd import``), or
either foreign kind."""


@dataclass(frozen=True, slots=True)
class NetworkMapConfig:
    """One ``[[network_map]]`` row: guests on ``source`` (network or bridge) use ``dest`` on ``hosts``.
    ``source_kind`` says what ``source`` names (:data:`SOURCE_KINDS`); a foreign row's source may be a shell
    pattern ("VM Network*")."""

    source: str = opt("")
    dest: str = opt("")
    hosts: tuple[str, ...] = opt(("*",))
    source_kind: str = opt("libvirt", choices=SOURCE_KINDS)


def network_pairs(rows: tuple[NetworkMapConfig, ...], dest: str) -> tuple[tuple[str, str], ...]:
    """The (source, dest) network pairs of the map's libvirt rows that apply to host ``dest`` (first matching
    row wins).

    The one reading of ``[[network_map]]``: the executor's pre-flight maps a moving VM's NICs with it, the
    collector the networks a host offers to the planner; :func:`foreign_network` reads the foreign rows.
    """
    pairs: dict[str, str] = {}
    for row in rows:
        if row.source_kind != "libvirt":
            continue
        if row.source not in pairs and any(fnmatch.fnmatchcase(dest, pattern) for pattern in row.hosts):
            pairs[row.source] = row.dest
    return tuple(pairs.items())


def foreign_network(rows: tuple[NetworkMapConfig, ...], dest: str, kind: str, name: str) -> str | None:
    """The libvirt network or bridge that a foreign NIC on ``name`` (a ``kind`` = "vmware" or "hyperv" network)
    uses on host ``dest``: the first row of that kind (or "foreign") whose source matches, else None."""
    for row in rows:
        if row.source_kind not in (kind, "foreign"):
            continue
        if fnmatch.fnmatchcase(name, row.source) and any(fnmatch.fnmatchcase(dest, p) for p in row.hosts):
            return row.dest
    return None
