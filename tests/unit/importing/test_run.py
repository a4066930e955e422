"""importing.run: convert (real qemu-img), upload, define, start through a recording fake backend; undo on failure."""

from __future__ import annotations

import dataclasses
import json
import os
import shutil
import struct
import subprocess
import xml.etree.ElementTree as ET
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from balancerd.backends.base import PoolInfo
from balancerd.clock import FakeClock
from balancerd.config import Config, from_table
from balancerd.errors import ImportSourceError, PermanentBackendError
from balancerd.importing import progress, reading, run, target
from balancerd.journal import Journal
from balancerd.model import Forecast
from tests.builders import grid

MIB = 1024 * 1024
START = 1_700_000_000.0
QEMU_IMG = shutil.which("qemu-img")
pytestmark = pytest.mark.skipif(QEMU_IMG is None, reason="qemu-img (qemu-utils) is not installed")
VMX = """displayName = "web"
memsize = "512"
numvcpus = "1"
scsi0.present = "TRUE"
scsi0.virtualDev = "lsilogic"
scsi0:0.present = "TRUE"
scsi0:0.fileName = "web.raw"
sata0.present = "TRUE"
sata0:0.present = "TRUE"
sata0:0.fileName = "data.raw"
ethernet0.present = "TRUE"
ethernet0.networkName = "VM Network"
ethernet0.addressType = "static"
ethernet0.address = "00:50:56:0a:0b:0c"
"""


class Refused(PermanentBackendError):
    pass


class FakeBackend:
    """The four import calls of a hypervisor backend (and undefine), recorded; ``fail`` names the call that raises
    (``"upload 2"``: the second upload)."""

    def __init__(self, fail: str = "") -> None:
        self.fail = fail
        self.calls: list[tuple[object, ...]] = []
        self.uploaded: dict[str, dict[str, object]] = {}
        self.volumes: list[str] = []
        self.domains: dict[str, str] = {}
        self.running: set[str] = set()

    def _maybe_fail(self, what: str) -> None:
        if self.fail == what:
            raise Refused(f"{what} refused by the fake")

    def upload_volume(self, host: str, pool: str, name: str, source: Path, fmt: str, capacity: int,
                      progress: Callable[[int], None] | None = None) -> str:
        self.calls.append(("upload", host, pool, name, fmt, capacity))
        self._maybe_fail(f"upload {sum(c[0] == 'upload' for c in self.calls)}")
        info = json.loads(subprocess.run([QEMU_IMG or "qemu-img", "info", "--output=json", str(source)], check=True,
                                         capture_output=True).stdout)
        self.uploaded[name] = {"format": info["format"], "virtual_size": info["virtual-size"],
                               "local": source, "bytes": source.stat().st_size}
        if progress is not None:
            progress(source.stat().st_size)
        self.volumes.append(name)
        return f"/srv/{pool}/{name}"

    def delete_volume(self, host: str, pool: str, name: str) -> None:
        self.calls.append(("delete", host, pool, name))
        self.volumes.remove(name)

    def define_domain(self, host: str, xml: str) -> str:
        self.calls.append(("define", host))
        self._maybe_fail("define")
        name = ET.fromstring(xml).findtext("name") or ""
        self.domains[name] = xml
        return name

    def start_domain(self, vm: str, host: str) -> None:
        self.calls.append(("start", vm, host))
        self._maybe_fail("start")
        self.running.add(vm)

    def undefine(self, vm: str, host: str) -> None:
        self.calls.append(("undefine", vm, host))
        del self.domains[vm]


class Recording(progress.Quiet):
    def __init__(self) -> None:
        self.events: list[tuple[str, dict[str, object]]] = []
        self.steps: list[tuple[str, str, int]] = []

    def begin(self, step: str, item: str, total: int) -> None:
        self.steps.append((step, item, total))

    def event(self, name: str, **fields: object) -> None:
        self.events.append((name, fields))


@pytest.fixture
def journal(tmp_path: Path) -> Iterator[Journal]:
    opened = Journal(tmp_path / "j.sqlite")
    yield opened
    opened.close()


def settings(tmp_path: Path, **imports: object) -> Config:
    return from_table({"network_map": [{"source": "*", "dest": "default", "source_kind": "foreign"}],
                       "imports": {"domain_type": "qemu", **imports}}, tmp_path)


def export(tmp_path: Path) -> reading.Export:
    folder = tmp_path / "export"
    folder.mkdir()
    (folder / "web.vmx").write_text(VMX)
    (folder / "web.raw").write_bytes(b"boot sector".ljust(MIB, b"\0"))
    (folder / "data.raw").write_bytes(b"data".ljust(2 * MIB, b"\x01"))
    scratch = tmp_path / "read"
    scratch.mkdir()
    return reading.read(folder / "web.vmx", scratch)


def decide(exp: reading.Export, cfg: Config) -> target.Target:
    pools = {"h0": (PoolInfo("h0", "default", "/srv/default", 10_000, 0, 10_000),)}
    found = target.decide(exp, target.Request("web"), cfg, grid([[1000]]), Forecast(300), pools)
    assert all(c.ok for c in (*exp.checks, *found.checks)), (exp.checks, found.checks)
    return found


def execute(tmp_path: Path, backend: FakeBackend, journal: Journal, *, start: bool = False,
            cfg: Config | None = None, exp: reading.Export | None = None,
            shown: progress.Progress | None = None) -> tuple[run.Imported, reading.Export, target.Target, Path]:
    cfg = cfg or settings(tmp_path)
    exp = exp or export(tmp_path)
    chosen = decide(exp, cfg)
    work = tmp_path / "work"
    work.mkdir(exist_ok=True)
    seams = run.Seams(backend, journal, FakeClock(START), shown or progress.Quiet())  # type: ignore[arg-type]
    done = run.execute(exp, chosen, "web", cfg.imports, work, seams, start=start)
    return done, exp, chosen, work


def attr(element: ET.Element, path: str, name: str) -> str | None:
    found = element.find(path)
    return None if found is None else found.get(name)


UPLOADS = [("upload", "h0", "default", "web-disk0.qcow2", "qcow2", MIB),
           ("upload", "h0", "default", "web-disk1.qcow2", "qcow2", 2 * MIB)]
PATHS = ("/srv/default/web-disk0.qcow2", "/srv/default/web-disk1.qcow2")


@pytest.mark.parametrize("start", [False, True])
def test_a_successful_import(tmp_path: Path, journal: Journal, start: bool) -> None:
    backend = FakeBackend()
    done, exp, chosen, work = execute(tmp_path, backend, journal, start=start)
    assert done == run.Imported("web", "h0", PATHS, start)
    assert backend.calls == [*UPLOADS, ("define", "h0"), *([("start", "web", "h0")] if start else [])]
    assert backend.running == ({"web"} if start else set())
    assert {n: (u["format"], u["virtual_size"]) for n, u in backend.uploaded.items()} == {
        "web-disk0.qcow2": ("qcow2", MIB), "web-disk1.qcow2": ("qcow2", 2 * MIB)}
    root = ET.fromstring(backend.domains["web"])
    assert root.get("type") == "qemu"
    disks = root.findall("devices/disk[@device='disk']")
    assert [attr(d, "source", "file") for d in disks] == list(PATHS)
    assert [attr(d, "driver", "type") for d in disks] == ["qcow2", "qcow2"]
    assert [attr(d, "target", "bus") for d in disks] == ["scsi", "sata"]
    assert [m.get("address") for m in root.iter("mac")] == ["00:50:56:0a:0b:0c"]
    assert list(work.iterdir()) == []
    (row,) = journal.imports()
    assert (row.name, row.source, row.host, row.outcome) == ("web", str(exp.path), "h0", "imported")
    assert row.detail == "2 disk(s) on h0"
    assert (row.started_at, row.ended_at) == (START, START)
    assert row.created == ("volume default/web-disk0.qcow2", "volume default/web-disk1.qcow2", "domain web")
    assert row.checks == (*exp.checks, *chosen.checks)


def test_raw_target_format(tmp_path: Path, journal: Journal) -> None:
    backend = FakeBackend()
    done, *_ = execute(tmp_path, backend, journal, cfg=settings(tmp_path, disk_format="raw"))
    assert done.volumes == ("/srv/default/web-disk0.raw", "/srv/default/web-disk1.raw")
    assert {n: u["format"] for n, u in backend.uploaded.items()} == {"web-disk0.raw": "raw", "web-disk1.raw": "raw"}
    assert [c[4] for c in backend.calls if c[0] == "upload"] == ["raw", "raw"]


def test_the_serial_log_goes_to_the_configured_folder(tmp_path: Path, journal: Journal) -> None:
    backend = FakeBackend()
    execute(tmp_path, backend, journal, cfg=settings(tmp_path, serial_log_dir="/srv/serial"))
    source = ET.fromstring(backend.domains["web"]).find("devices/serial/source")
    assert source is not None
    assert source.attrib == {"path": "/srv/serial/web.log", "append": "on"}


def test_progress_is_announced_for_every_step(tmp_path: Path, journal: Journal) -> None:
    shown = Recording()
    execute(tmp_path, FakeBackend(), journal, start=True, shown=shown)
    assert [(s, i) for s, i, _ in shown.steps] == [("convert", "web.raw"), ("upload", "web-disk0.qcow2"),
                                                   ("convert", "data.raw"), ("upload", "web-disk1.qcow2")]
    assert [s[2] for s in shown.steps][0::2] == [MIB, 2 * MIB]
    assert shown.events == [("defined", {"vm": "web", "host": "h0"}), ("started", {"vm": "web", "host": "h0"})]


def test_a_failure_at_define_removes_every_volume(tmp_path: Path, journal: Journal) -> None:
    backend = FakeBackend(fail="define")
    with pytest.raises(Refused, match="define refused by the fake"):
        execute(tmp_path, backend, journal)
    assert backend.calls == [*UPLOADS, ("define", "h0"), ("delete", "h0", "default", "web-disk0.qcow2"),
                             ("delete", "h0", "default", "web-disk1.qcow2")]
    assert backend.domains == {}
    assert backend.volumes == []
    assert list((tmp_path / "work").iterdir()) == []
    (row,) = journal.imports()
    assert (row.outcome, row.detail, row.ended_at) == ("failed", "define refused by the fake", START)
    assert row.created == ("volume default/web-disk0.qcow2", "volume default/web-disk1.qcow2")


def test_a_failure_at_start_undefines_then_removes_the_volumes(tmp_path: Path, journal: Journal) -> None:
    backend = FakeBackend(fail="start")
    shown = Recording()
    with pytest.raises(Refused, match="start refused by the fake"):
        execute(tmp_path, backend, journal, start=True, shown=shown)
    assert backend.calls[len(UPLOADS):] == [("define", "h0"), ("start", "web", "h0"), ("undefine", "web", "h0"),
                                            ("delete", "h0", "default", "web-disk0.qcow2"),
                                            ("delete", "h0", "default", "web-disk1.qcow2")]
    assert (backend.domains, backend.volumes, backend.running) == ({}, [], set())
    assert [name for name, _ in shown.events] == ["defined", "removed", "removed", "removed"]
    (row,) = journal.imports()
    assert (row.outcome, row.detail) == ("failed", "start refused by the fake")
    assert row.created == ("volume default/web-disk0.qcow2", "volume default/web-disk1.qcow2", "domain web")


def test_a_failure_at_the_second_upload_removes_the_first(tmp_path: Path, journal: Journal) -> None:
    backend = FakeBackend(fail="upload 2")
    with pytest.raises(Refused):
        execute(tmp_path, backend, journal)
    assert backend.calls == [*UPLOADS, ("delete", "h0", "default", "web-disk0.qcow2")]
    assert backend.volumes == []
    assert list((tmp_path / "work").iterdir()) == []
    (row,) = journal.imports()
    assert (row.outcome, row.created) == ("failed", ("volume default/web-disk0.qcow2",))


def test_a_failed_cleanup_step_does_not_stop_the_others(tmp_path: Path, journal: Journal) -> None:
    backend = FakeBackend(fail="define")
    deleted: list[str] = []

    def delete(host: str, pool: str, name: str) -> None:
        deleted.append(name)
        if name.endswith("disk0.qcow2"):
            raise PermanentBackendError("cannot delete")

    backend.delete_volume = delete  # type: ignore[method-assign]
    with pytest.raises(Refused):
        execute(tmp_path, backend, journal)
    assert deleted == ["web-disk0.qcow2", "web-disk1.qcow2"]
    assert journal.imports()[0].outcome == "failed"


def corrupt_qcow2(path: Path) -> Path:
    """A qcow2 of random data whose second L2 entry points at an unaligned offset: qemu-img convert writes the first
    cluster into its output, then fails with an I/O error."""
    raw = path.with_suffix(".raw")
    raw.write_bytes(os.urandom(MIB))
    subprocess.run([QEMU_IMG or "qemu-img", "convert", "-f", "raw", "-O", "qcow2", str(raw), str(path)], check=True)
    data = bytearray(path.read_bytes())
    l1 = struct.unpack(">Q", data[40:48])[0]
    l2 = struct.unpack(">Q", data[l1:l1 + 8])[0] & 0x00FFFFFFFFFFFE00
    data[l2 + 8:l2 + 16] = struct.pack(">Q", (1 << 63) | 0x10200)
    path.write_bytes(bytes(data))
    return path


def test_a_failed_conversion_is_recorded_and_nothing_is_uploaded(tmp_path: Path, journal: Journal) -> None:
    exp = export(tmp_path)
    broken = dataclasses.replace(exp, files=(corrupt_qcow2(tmp_path / "bad.qcow2"), exp.files[1]),
                                 formats=("qcow2", "raw"))
    backend = FakeBackend()
    with pytest.raises(ImportSourceError) as raised:
        execute(tmp_path, backend, journal, exp=broken)
    assert "qemu-img convert failed" in raised.value.problem
    assert backend.calls == []
    (row,) = journal.imports()
    assert row.outcome == "failed"
    assert "qemu-img convert failed" in row.detail
    assert row.created == ()


def test_a_failed_conversion_leaves_no_scratch_file(tmp_path: Path, journal: Journal) -> None:
    exp = export(tmp_path)
    broken = dataclasses.replace(exp, files=(corrupt_qcow2(tmp_path / "bad.qcow2"), exp.files[1]),
                                 formats=("qcow2", "raw"))
    with pytest.raises(ImportSourceError):
        execute(tmp_path, FakeBackend(), journal, exp=broken)
    assert list((tmp_path / "work").iterdir()) == []
