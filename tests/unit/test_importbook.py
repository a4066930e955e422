"""balancerd.importbook through the journal: import rows with their checks, what they created, the outcome."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from balancerd.backends.base import Check
from balancerd.importbook import ImportRecord
from balancerd.journal import Journal

CHECKS = (Check("source readable", True, "every disk file is there"),
          Check("networks mapped", False, "no [[network_map]] row maps 'VM Network'; known targets: br0"),
          Check("pool free space", True, ""))


@pytest.fixture
def journal(tmp_path: Path) -> Iterator[Journal]:
    opened = Journal(tmp_path / "state" / "j.sqlite")
    yield opened
    opened.close()


def test_a_row_round_trips(journal: Journal) -> None:
    rid = journal.import_started("web", "/exports/web.vmx", "h1", 100.0, CHECKS)
    journal.import_created(rid, "volume default/web-disk0.qcow2")
    journal.import_created(rid, "volume default/web-disk1.qcow2")
    journal.import_created(rid, "domain web")
    journal.import_ended(rid, "imported", "2 disk(s) on h1", 130.5)
    assert journal.imports() == (ImportRecord(
        rid, "web", "/exports/web.vmx", "h1", 100.0, 130.5, "imported", "2 disk(s) on h1", CHECKS,
        ("volume default/web-disk0.qcow2", "volume default/web-disk1.qcow2", "domain web")),)


def test_an_open_row_has_no_end_and_no_outcome(journal: Journal) -> None:
    rid = journal.import_started("db", "/exports/db.ova", "", 5.0, ())
    assert journal.imports() == (ImportRecord(rid, "db", "/exports/db.ova", "", 5.0, None, None, "", (), ()),)


def test_newest_first_and_the_limit(journal: Journal) -> None:
    ids = [journal.import_started(f"vm{i}", f"/e/vm{i}.vmx", "h0", float(i), CHECKS[:1]) for i in range(5)]
    journal.import_ended(ids[1], "failed", "define refused", 9.0)
    assert [r.name for r in journal.imports()] == ["vm4", "vm3", "vm2", "vm1", "vm0"]
    assert [r.name for r in journal.imports(limit=2)] == ["vm4", "vm3"]
    failed = {r.name: r for r in journal.imports()}["vm1"]
    assert (failed.outcome, failed.detail, failed.ended_at) == ("failed", "define refused", 9.0)
    assert len(set(ids)) == 5


def test_rows_survive_reopening(tmp_path: Path) -> None:
    path = tmp_path / "j.sqlite"
    first = Journal(path)
    rid = first.import_started("web", "/e/web.vmx", "h1", 1.0, CHECKS)
    first.import_created(rid, "volume fast/web-disk0.raw")
    first.close()
    again = Journal(path)
    try:
        (row,) = again.imports()
        assert (row.id, row.checks, row.created) == (rid, CHECKS, ("volume fast/web-disk0.raw",))
    finally:
        again.close()


def test_created_entries_of_one_import_do_not_touch_another(journal: Journal) -> None:
    a = journal.import_started("a", "/e/a.vmx", "h0", 1.0, ())
    b = journal.import_started("b", "/e/b.vmx", "h0", 2.0, ())
    journal.import_created(a, "volume p/a-disk0.qcow2")
    journal.import_created(b, "domain b")
    rows = {r.name: r.created for r in journal.imports()}
    assert rows == {"a": ("volume p/a-disk0.qcow2",), "b": ("domain b",)}
