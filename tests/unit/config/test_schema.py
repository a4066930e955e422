"""config.schema: the one rule for the speed a migration really gets."""

from __future__ import annotations

from balancerd.config import MigrationConfig, migration_speed


def test_the_cap_when_set_else_the_link() -> None:
    assert migration_speed(1000, 0) == 1000
    assert migration_speed(1000, 62) == 62
    assert migration_speed(1000, 5000) == 1000  # a cap cannot make the link faster


def test_a_vm_cap_replaces_the_operator_cap() -> None:
    migration = MigrationConfig(link_mib_s=1000, bandwidth_mib_s=100)
    assert migration.speed_mib_s() == 100
    assert migration.speed_mib_s(20) == 20
    assert migration.speed_mib_s(500) == 500
    assert MigrationConfig(link_mib_s=125).speed_mib_s() == 125
