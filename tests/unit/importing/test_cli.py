"""``balancerd import``: the dry-run report (--json) on the simulated demo cluster, exit codes, errors."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from balancerd import cli
from balancerd.journal import Journal

REPO = Path(__file__).resolve().parents[3]
DATA = Path(__file__).parent / "data" / "run"
MIB = 1024 * 1024
QEMU_IMG = shutil.which("qemu-img")
pytestmark = pytest.mark.skipif(QEMU_IMG is None, reason="qemu-img (qemu-utils) is not installed")

CHECK_NAMES = ["source readable", "source complete", "disk formats", "checksums", "name free", "host capacity",
               "networks mapped", "networks present", "pool free space", "cpu compatibility"]
# The keys README "Importing guests" documents; the issue asks for at least source{format, name, memory_bytes, vcpus,
# firmware, disks[{bus, file, format, virtual_size_bytes}], cdroms[{bus}], nics[{network, mac, model}]},
# target{host, pool, networks, disk_format, devices}, checks[{name, ok, detail}].
SOURCE_KEYS = {"format", "name", "memory_bytes", "vcpus", "sockets", "cores_per_socket", "firmware", "guest_os",
               "disks", "cdroms", "nics"}
DISK_KEYS = {"bus", "file", "format", "virtual_size_bytes", "controller", "compression", "chunk_size"}
TARGET_KEYS = {"host", "pool", "networks", "disk_format", "converter", "devices", "placement"}
DEVICE_KEYS = {"machine", "firmware", "disks", "nics", "cdroms", "controllers"}


@pytest.fixture(autouse=True)
def _in_the_repo(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(REPO)


def export(folder: Path, *, disk: bool = True, replace: tuple[str, str] = ("", "")) -> Path:
    """web.vmx (data/run) in ``folder`` with a 4 MiB monolithicSparse web.vmdk beside it (unless ``disk`` is
    False)."""
    folder.mkdir(parents=True, exist_ok=True)
    text = (DATA / "web.vmx").read_text()
    if replace[0]:
        assert replace[0] in text
        text = text.replace(*replace)
    (folder / "web.vmx").write_text(text)
    if disk:
        raw = folder / "web.raw"
        raw.write_bytes(os.urandom(4 * MIB))
        subprocess.run([QEMU_IMG or "qemu-img", "convert", "-f", "raw", "-O", "vmdk", str(raw),
                        str(folder / "web.vmdk")], check=True)
        raw.unlink()
    return folder / "web.vmx"


def dry_run(capsys: pytest.CaptureFixture[str], path: Path, *extra: str) -> tuple[int, dict[str, Any], str]:
    code = cli.main(["import", str(path), "--config", "config/demo.toml", "--dry-run", "--json", *extra])
    out, err = capsys.readouterr()
    return code, json.loads(out), err


def test_dry_run_json_has_the_documented_keys(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, doc, _ = dry_run(capsys, export(tmp_path / "export"))
    assert code == 0
    assert set(doc) == {"source", "target", "checks"}
    source, chosen, checks = doc["source"], doc["target"], doc["checks"]
    assert set(source) == SOURCE_KEYS
    assert [set(d) for d in source["disks"]] == [DISK_KEYS]
    assert [set(c) for c in source["cdroms"]] == [{"bus", "file"}]
    assert [set(n) for n in source["nics"]] == [{"network", "mac", "model"}]
    assert set(chosen) == TARGET_KEYS
    assert set(chosen["devices"]) == DEVICE_KEYS
    assert set(chosen["placement"]) == {"reason", "candidates"}
    assert all(set(c) == {"name", "ok", "detail"} for c in checks)


def test_dry_run_json_values(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, doc, _ = dry_run(capsys, export(tmp_path / "export"))
    assert code == 0
    source, chosen = doc["source"], doc["target"]
    assert {k: source[k] for k in ("format", "name", "memory_bytes", "vcpus", "sockets", "cores_per_socket",
                                   "firmware", "guest_os")} == {
        "format": "vmx", "name": "web", "memory_bytes": 1024 * MIB, "vcpus": 2, "sockets": 1, "cores_per_socket": 2,
        "firmware": "bios", "guest_os": "debian11-64"}
    assert source["disks"] == [{"bus": "scsi", "file": "web.vmdk", "format": "vmdk", "virtual_size_bytes": 4 * MIB,
                                "controller": "pvscsi", "compression": "", "chunk_size": 0}]
    assert source["cdroms"] == [{"bus": "sata", "file": "debian.iso"}]
    assert source["nics"] == [{"network": "VM Network", "mac": "00:50:56:01:02:03", "model": "vmxnet3"}]
    assert chosen["host"].startswith("host")
    assert chosen["host"] == chosen["placement"]["candidates"][0]["host"]
    assert (chosen["pool"], chosen["networks"], chosen["disk_format"]) == ("", {"VM Network": "default"}, "qcow2")
    assert chosen["devices"] == {
        "machine": "pc", "firmware": "bios",
        "disks": [{"source_file": "web.vmdk", "bus": "scsi", "dev": "sda", "volume": "web-disk0.qcow2"}],
        "nics": [{"source_network": "VM Network", "network": "default", "mac": "00:50:56:01:02:03",
                  "model": "virtio"}],
        "cdroms": [{"bus": "sata", "dev": "sdb"}], "controllers": ["virtio-scsi"]}
    assert [(c["name"], c["ok"]) for c in doc["checks"]] == [(name, True) for name in CHECK_NAMES]


def test_a_nic_that_is_not_present_is_not_listed(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _, doc, _ = dry_run(capsys, export(tmp_path / "off"))
    assert [n["network"] for n in doc["source"]["nics"]] == ["VM Network"]
    assert "Switched Off" not in doc["target"]["networks"]
    _, doc, _ = dry_run(capsys, export(tmp_path / "on", replace=('ethernet1.present = "FALSE"',
                                                                 'ethernet1.present = "TRUE"')))
    assert [n["network"] for n in doc["source"]["nics"]] == ["VM Network", "Switched Off"]
    assert doc["target"]["networks"] == {"VM Network": "default", "Switched Off": "default"}


def test_name_compat_and_host_options(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, doc, _ = dry_run(capsys, export(tmp_path / "export"), "--name", "app7", "--compat", "--host", "host16")
    assert code == 0
    assert doc["source"]["name"] == "web"
    assert doc["target"]["host"] == "host16"
    assert [c["host"] for c in doc["target"]["placement"]["candidates"]] == ["host16"]
    assert [(d["bus"], d["volume"]) for d in doc["target"]["devices"]["disks"]] == [("sata", "app7-disk0.qcow2")]
    assert [n["model"] for n in doc["target"]["devices"]["nics"]] == ["e1000"]


def test_a_failing_check_exits_1_and_still_prints_the_report(tmp_path: Path,
                                                             capsys: pytest.CaptureFixture[str]) -> None:
    code, doc, _ = dry_run(capsys, export(tmp_path / "export", disk=False))
    assert code == 1
    found = {c["name"]: c for c in doc["checks"]}
    assert list(found) == CHECK_NAMES
    assert found["source readable"] == {"name": "source readable", "ok": False,
                                        "detail": "web.vmdk: the file is missing"}
    assert found["source complete"]["ok"] is False
    assert found["host capacity"]["ok"] is True
    assert doc["source"]["disks"][0]["virtual_size_bytes"] == 0


def _sim_config(tmp_path: Path) -> Path:
    """The demo config with its state (journal) and the import scratch in ``tmp_path``."""
    config = tmp_path / "sim.toml"
    demo = (REPO / "config" / "demo.toml").read_text().replace("../var/demo", str(tmp_path / "state"))
    config.write_text(demo + f'\n[imports]\nwork_dir = "{tmp_path / "scratch"}"\n')
    return config


def test_a_failing_check_without_dry_run_is_refused_and_recorded(tmp_path: Path,
                                                                capsys: pytest.CaptureFixture[str]) -> None:
    path = export(tmp_path / "export", disk=False)
    code = cli.main(["import", str(path), "--config", str(_sim_config(tmp_path))])
    out, _ = capsys.readouterr()
    assert code == 1
    assert "  FAIL source readable: web.vmdk: the file is missing" in out.splitlines()
    journal = Journal(tmp_path / "state" / "journal.sqlite")
    try:
        (row,) = journal.imports()
    finally:
        journal.close()
    assert (row.outcome, row.created) == ("refused", ())
    assert row.detail.startswith("source readable: web.vmdk: the file is missing")


def test_a_malformed_vmx_exits_1_naming_the_file_and_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = export(tmp_path / "export", disk=False, replace=('memsize = "1024"', 'memsize = "lots"'))
    code = cli.main(["import", str(path), "--config", "config/demo.toml", "--dry-run", "--json"])
    out, err = capsys.readouterr()
    assert code == 1
    assert out == ""
    assert err.startswith(f"balancerd: {path} line 6: memsize: got 'lots'; ")


def test_an_unknown_host_exits_1(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code = cli.main(["import", str(export(tmp_path / "export")), "--config", "config/demo.toml", "--dry-run",
                     "--json", "--host", "nope"])
    out, err = capsys.readouterr()
    assert code == 1
    assert out == ""
    assert err.startswith("balancerd: unknown host 'nope'; known hosts: host01, ")


def test_the_text_report(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = export(tmp_path / "export")
    code = cli.main(["import", str(path), "--config", "config/demo.toml", "--dry-run"])
    out, _ = capsys.readouterr()
    assert code == 0
    lines = out.splitlines()
    assert lines[0] == f"{path}: vmx guest 'web', 2 vCPU, 1024 MiB, bios, 1 disk(s), 1 NIC(s)"
    assert lines[1].startswith("target: host host")
    assert lines[1].endswith(", pool (none), disks as qcow2, networks VM Network -> default")
    assert [line.split(":")[0].strip() for line in lines[2:]] == [f"ok   {name}" for name in CHECK_NAMES]


def test_an_import_on_the_sim_is_refused_recorded_and_cleaned_up(tmp_path: Path,
                                                                 capsys: pytest.CaptureFixture[str]) -> None:
    path = export(tmp_path / "export")
    code = cli.main(["import", str(path), "--config", str(_sim_config(tmp_path)), "--json"])
    out, err = capsys.readouterr()
    assert code == 1
    assert "the simulated cluster holds no disks or domain definitions" in err
    assert [json.loads(line)["event"] for line in out.splitlines()][:1] == ["progress"]
    assert list((tmp_path / "scratch").iterdir()) == []
    journal = Journal(tmp_path / "state" / "journal.sqlite")
    try:
        (row,) = journal.imports()
    finally:
        journal.close()
    assert (row.name, row.source, row.outcome, row.created) == ("web", str(path), "failed", ())
    assert "the simulated cluster holds no disks" in row.detail
    assert [c.name for c in row.checks] == CHECK_NAMES


@pytest.mark.parametrize("installed", [True, False])
def test_the_virt_v2v_converter_is_a_checked_choice(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                                   monkeypatch: pytest.MonkeyPatch, installed: bool) -> None:
    from balancerd.importing import v2v

    monkeypatch.setattr(v2v.shutil, "which", lambda tool: f"/usr/bin/{tool}" if installed else None)
    code, doc, _ = dry_run(capsys, export(tmp_path / "export"), "--converter", "virt-v2v")
    assert doc["target"]["converter"] == "virt-v2v"
    assert [c["name"] for c in doc["checks"]] == [*CHECK_NAMES, "converter"]
    (check,) = [c for c in doc["checks"] if c["name"] == "converter"]
    assert (code, check["ok"]) == ((0, True) if installed else (1, False))
    assert installed or "apt install libnbd-bin nbdkit virt-v2v" in check["detail"]


def test_the_default_converter_is_qemu_img_without_a_check(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _, doc, _ = dry_run(capsys, export(tmp_path / "export"))
    assert doc["target"]["converter"] == "qemu-img"
    assert "converter" not in {c["name"] for c in doc["checks"]}
