"""Keys of older releases: a config that still sets one is refused with the key that replaces it.

Called by :func:`balancerd.config.loading.from_table` before the table is built, so that an old file gets
"was removed; set ..." (exit 78) instead of a bare "unknown key". Add a row here whenever a key is removed
or moved.
"""

from __future__ import annotations

from typing import Any

from balancerd.errors import ConfigError

REMOVED: dict[tuple[str, str], str] = {
    ("sim", "bandwidth_mib_s"):
        "set '[migration] link_mib_s' instead: the simulated backend transfers at the migration link's speed",
    ("policy", "migration_bandwidth_mib_s"):
        "set '[migration] link_mib_s' (the physical migration link) instead: the optimizer costs a migration at "
        "the speed it really gets (the link, or '[migration] bandwidth_mib_s' when that cap is lower)",
    ("throttle", "bandwidth_mib_s"):
        "it moved: set '[migration] bandwidth_mib_s' (the cap of every migration, 0 = no cap)",
    ("throttle", "max_downtime_ms"):
        "nothing read it: set '[migration] downtime_schedule_ms' (its first step is the max downtime a "
        "migration starts with)",
}
"""(table, key) of every removed key -> what to set instead."""


def refuse(table: dict[str, Any]) -> None:
    """Raise ConfigError for the first removed key ``table`` still sets."""
    for (section, key), instead in REMOVED.items():
        values = table.get(section)
        if isinstance(values, dict) and key in values:
            raise ConfigError(f"{section}.{key}", values[key], f"this key was removed; {instead}")
