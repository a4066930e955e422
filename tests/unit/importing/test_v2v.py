"""virt-v2v as the converter: the libvirt XML it reads, its command line, reading its output and its XML, the
pre-flight check, and an import carried out through it (a stand-in ``virt-v2v`` on PATH that behaves as the real
one does on success and on an OS it cannot inspect; the real one runs in tests/e2e/test_import_v2v.py).
"""

from __future__ import annotations

import dataclasses
import os
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from balancerd.clock import FakeClock
from balancerd.errors import ImportSourceError
from balancerd.importing import progress, reading, run, v2v
from balancerd.journal import Journal
from tests.unit.importing.test_run import MIB, START, FakeBackend, Recording, decide, export, journal, settings

__all__ = ["journal"]  # the fixture, imported for the tests below

FAKE = r'''
import os, sys, xml.etree.ElementTree as ET
a = sys.argv
def arg(flag): return a[a.index(flag) + 1]
print("[   0.0] Setting up the source: -i libvirtxml " + a[a.index("-i") + 2], flush=True)
print("[  21.9] Inspecting the source", flush=True)
if os.environ.get("FAKE_V2V_FAIL"):
    print("virt-v2v: error: inspection could not detect the source guest (or physical machine).", file=sys.stderr)
    sys.exit(1)
print("virt-v2v: warning: could not determine a way to update the configuration of Grub2", flush=True)
source = ET.parse(a[a.index("-i") + 2]).getroot()
out, name, fmt = arg("-os"), arg("-on"), arg("-of")
files = [d.find("source").get("file") for d in source.iter("disk")]
disks = ""
for i, f in enumerate(files):
    print(f"[  86.7] Copying disk {i + 1}/{len(files)}", flush=True)
    sys.stdout.write("\r  0% [----]\r 50% [**--]\r100% [****]\n")
    target = os.path.join(out, f"{name}-sd{chr(97 + i)}")
    with open(f, "rb") as src, open(target, "wb") as dst:
        dst.write(src.read())
    disks += f"<disk type='file' device='disk'><driver name='qemu' type='{fmt}'/>" \
             f"<source file='{target}'/><target dev='vd{chr(97 + i)}' bus='virtio'/></disk>"
with open(os.path.join(out, name + ".xml"), "w") as x:
    x.write(f"<domain type='kvm'><name>{name}</name><devices>{disks}"
            "<disk device='cdrom'><target dev='sdc'/></disk></devices></domain>")
print("[  87.5] Finishing off", flush=True)
'''


@pytest.fixture
def fake_v2v(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    folder = tmp_path / "bin"
    folder.mkdir()
    script = folder / "virt-v2v"
    script.write_text(f"#!{sys.executable}\n{FAKE}")
    script.chmod(0o755)
    monkeypatch.setenv("PATH", f"{folder}{os.pathsep}{os.environ['PATH']}")
    return script


def test_the_source_xml_names_every_disk_with_its_format_and_the_guest_size(tmp_path: Path) -> None:
    exp = export(tmp_path)
    root = ET.fromstring(v2v.source_xml(exp, "web"))
    assert root.findtext("name") == "web" and root.findtext("vcpu") == "1"
    memory = root.find("memory")
    assert memory is not None and (memory.get("unit"), memory.text) == ("KiB", str(512 * 1024))
    disks = root.findall("devices/disk")
    assert [d.find("source").get("file") for d in disks] == [str(f) for f in exp.files]  # type: ignore[union-attr]
    assert [d.find("driver").get("type") for d in disks] == ["raw", "raw"]  # type: ignore[union-attr]
    assert [d.find("target").get("dev") for d in disks] == ["sda", "sdb"]  # type: ignore[union-attr]
    nic = root.find("devices/interface")
    assert nic is not None and nic.find("source").get("network") == "VM Network"  # type: ignore[union-attr]
    assert root.find("os").get("firmware") is None  # type: ignore[union-attr]


def test_a_uefi_guest_is_described_as_one(tmp_path: Path) -> None:
    exp = export(tmp_path)
    uefi = dataclasses.replace(exp, guest=dataclasses.replace(exp.guest, firmware="uefi"))
    assert ET.fromstring(v2v.source_xml(uefi, "web")).find("os").get("firmware") == "efi"  # type: ignore[union-attr]


def test_a_disk_without_a_file_is_refused(tmp_path: Path) -> None:
    exp = export(tmp_path)
    with pytest.raises(ImportSourceError, match="disk 2 has no file"):
        v2v.source_xml(dataclasses.replace(exp, files=(exp.files[0], None)), "web")


def test_the_command_reads_libvirt_xml_and_writes_local_files() -> None:
    assert v2v.command(Path("/w/s.xml"), Path("/w/out"), "web", "qcow2") == [
        "virt-v2v", "-i", "libvirtxml", "/w/s.xml", "-o", "local", "-os", "/w/out", "-of", "qcow2", "-on", "web"]


def test_outputs_are_the_disks_of_the_written_xml_in_order(tmp_path: Path) -> None:
    text = ("<domain><devices><disk device='disk'><source file='/o/web-sda'/></disk>"
            "<disk device='cdrom'><source file='/iso/x.iso'/></disk>"
            "<disk device='disk'><source file='web-sdb'/></disk></devices></domain>")
    assert v2v.outputs(text, tmp_path) == (Path("/o/web-sda"), tmp_path / "web-sdb")
    with pytest.raises(ImportSourceError, match="unreadable XML"):
        v2v.outputs("<domain", tmp_path)


@pytest.mark.parametrize(("text", "copying", "expected"), [
    ("[  21.9] Inspecting the source", None, v2v.Line(stage="Inspecting the source")),
    ("[ 232.6] Copying disk 2/2", (1, 2), v2v.Line(stage="Copying disk 2/2")),
    ("▝  50% [********--------]", (2, 2), v2v.Line(copied=0.75)),
    ("100% [****************]", (1, 4), v2v.Line(copied=0.25)),
    ("50% [****----]", None, v2v.Line()),
    ("virt-v2v: This guest has virtio drivers installed.", (1, 1), v2v.Line()),
])
def test_read_line(text: str, copying: tuple[int, int] | None, expected: v2v.Line) -> None:
    assert v2v.read_line(text, copying) == expected


def test_the_check_names_each_missing_tool_and_its_package(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(v2v.shutil, "which", lambda tool: None if tool in ("nbdkit", "nbdcopy") else f"/bin/{tool}")
    found = v2v.check()
    assert not found.ok and "nbdkit, nbdcopy" in found.detail and "apt install libnbd-bin nbdkit" in found.detail
    monkeypatch.setattr(v2v.shutil, "which", lambda tool: f"/usr/bin/{tool}")
    assert v2v.check().ok


def _execute(tmp_path: Path, backend: FakeBackend, journal: Journal,
             shown: progress.Progress) -> tuple[run.Imported, reading.Export]:
    cfg = settings(tmp_path)
    exp = export(tmp_path)
    chosen = dataclasses.replace(decide(exp, cfg), converter="virt-v2v")
    work = tmp_path / "work"
    work.mkdir()
    seams = run.Seams(backend, journal, FakeClock(START), shown)  # type: ignore[arg-type]
    return run.execute(exp, chosen, "web", cfg.imports, work, seams, start=True), exp


def test_an_import_through_virt_v2v_uploads_what_it_wrote(tmp_path: Path, journal: Journal,
                                                         fake_v2v: Path) -> None:
    backend, shown = FakeBackend(), Recording()
    done, _ = _execute(tmp_path, backend, journal, shown)
    assert done.volumes == ("/srv/default/web-disk0.qcow2", "/srv/default/web-disk1.qcow2")
    assert [(c[0], c[3], c[5]) for c in backend.calls if c[0] == "upload"] == [
        ("upload", "web-disk0.qcow2", MIB), ("upload", "web-disk1.qcow2", 2 * MIB)]
    assert [s[:2] for s in shown.steps] == [("convert", "web (virt-v2v)"), ("upload", "web-disk0.qcow2"),
                                            ("upload", "web-disk1.qcow2")]
    stages = [f["stage"] for name, f in shown.events if name == "stage"]
    assert stages[:2] == ["Setting up the source: -i libvirtxml " + str(tmp_path / "work" / "web.v2v-source.xml"),
                          "Inspecting the source"]
    assert backend.running == {"web"}
    (row,) = journal.imports()
    assert row.outcome == "imported" and row.created[-1] == "domain web"
    assert not list((tmp_path / "work" / "v2v").glob("web-sd*")), "each converted disk is removed once uploaded"


def test_a_guest_virt_v2v_cannot_inspect_fails_cleanly(tmp_path: Path, journal: Journal, fake_v2v: Path,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FAKE_V2V_FAIL", "1")
    backend = FakeBackend()
    with pytest.raises(ImportSourceError) as raised:
        _execute(tmp_path, backend, journal, Recording())
    assert "virt-v2v failed (exit 1)" in raised.value.problem and "could not detect" in raised.value.problem
    assert "--converter qemu-img" in raised.value.fix
    assert backend.calls == []
    (row,) = journal.imports()
    assert row.outcome == "failed" and row.created == ()
