"""importing.reading on real small exports made with qemu-img: VMX + VMDK, VHD(X) + spec, OVF and OVA packages."""

from __future__ import annotations

import gzip
import hashlib
import io
import os
import shutil
import subprocess
import tarfile
from pathlib import Path

import pytest

from balancerd.backends.base import Check
from balancerd.errors import ImportSourceError
from balancerd.importing import reading
from balancerd.importing.source import SourceCdrom, SourceDisk, SourceNic

DATA = Path(__file__).parent / "data" / "run"
MIB = 1024 * 1024
QEMU_IMG = shutil.which("qemu-img")
pytestmark = pytest.mark.skipif(QEMU_IMG is None, reason="qemu-img (qemu-utils) is not installed")


def qemu_img(*args: str | Path) -> None:
    subprocess.run([QEMU_IMG or "qemu-img", *map(str, args)], check=True, capture_output=True)


def random_vmdk(path: Path, size: int = 4 * MIB) -> Path:
    """A monolithicSparse VMDK (qemu-img's default) of ``size`` random bytes."""
    raw = path.with_suffix(".raw")
    raw.write_bytes(os.urandom(size))
    qemu_img("convert", "-f", "raw", "-O", "vmdk", raw, path)
    raw.unlink()
    return path


def vmx_export(folder: Path, disk: str = "web.vmdk") -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    text = (DATA / "web.vmx").read_text().replace('"web.vmdk"', f'"{disk}"')
    (folder / "web.vmx").write_text(text)
    return folder / "web.vmx"


def checks(export: reading.Export) -> dict[str, Check]:
    return {c.name: c for c in export.checks}


def read(path: Path, tmp_path: Path, spec: Path | None = None) -> reading.Export:
    work = tmp_path / "work"
    work.mkdir(exist_ok=True)
    return reading.read(path, work, spec)


# --- VMX ----------------------------------------------------------------------------------------------------


def test_a_vmx_with_a_monolithic_sparse_vmdk(tmp_path: Path) -> None:
    vmx = vmx_export(tmp_path / "export")
    disk = random_vmdk(tmp_path / "export" / "web.vmdk", 4 * MIB)
    export = read(vmx, tmp_path)
    assert export.path == vmx
    assert export.guest.disks == (SourceDisk("scsi", "web.vmdk", "vmdk", 4 * MIB, "pvscsi"),)
    assert export.guest.cdroms == (SourceCdrom("sata", "debian.iso"),)
    assert export.guest.nics == (SourceNic("VM Network", "00:50:56:01:02:03", "vmxnet3"),)
    assert (export.guest.name, export.guest.memory_bytes, export.guest.vcpus) == ("web", 1024 * MIB, 2)
    assert (export.guest.sockets, export.guest.cores_per_socket) == (1, 2)
    assert export.files == (disk,)
    assert export.formats == ("vmdk",)
    assert export.checks == (
        Check("source readable", True, "every disk file is there"),
        Check("source complete", True, "1 disk(s) read and checked by qemu-img"),
        Check("disk formats", True, "vmdk"),
        Check("checksums", True, "a VMX export carries no manifest: nothing to verify"))


def test_a_truncated_vmdk_fails_source_complete(tmp_path: Path) -> None:
    vmx = vmx_export(tmp_path / "export")
    disk = random_vmdk(tmp_path / "export" / "web.vmdk", 4 * MIB)
    whole = disk.read_bytes()
    disk.write_bytes(whole[:len(whole) // 2])
    found = checks(read(vmx, tmp_path))
    assert found["source readable"] == Check("source readable", True, "every disk file is there")
    complete = found["source complete"]
    assert not complete.ok
    assert complete.detail.startswith("web.vmdk: ")
    assert "points after EOF" in complete.detail


def test_a_missing_vmdk_fails_source_readable_naming_the_file(tmp_path: Path) -> None:
    vmx = vmx_export(tmp_path / "export", disk="gone.vmdk")
    export = read(vmx, tmp_path)
    assert export.files == (None,)
    assert export.formats == ("",)
    assert export.guest.disks[0].virtual_size_bytes == 0
    found = checks(export)
    assert found["source readable"] == Check("source readable", False, "gone.vmdk: the file is missing")
    assert found["source complete"] == Check("source complete", False, "gone.vmdk: the file is missing")


@pytest.mark.parametrize("content", [b"", b"# Disk DescriptorFile\nnot really\n"], ids=["empty", "garbage"])
def test_a_vmdk_that_is_no_vmdk_fails_a_check(tmp_path: Path, content: bytes) -> None:
    vmx = vmx_export(tmp_path / "export")
    (tmp_path / "export" / "web.vmdk").write_bytes(content)
    export = read(vmx, tmp_path)
    assert export.formats == ("raw",)
    assert not all(c.ok for c in export.checks), export.checks


@pytest.mark.parametrize(("fmt", "ok", "detail"), [
    ("qcow2", True, "qcow2"),                   # qemu-img's probe replaces what the name says
    ("raw", True, "raw"),
    ("vdi", False, "not a format balancerd converts: web.vmdk (vdi); supported: vmdk, vhdx, vpc, qcow2, raw"),
])
def test_the_format_is_qemu_imgs(tmp_path: Path, fmt: str, ok: bool, detail: str) -> None:
    vmx = vmx_export(tmp_path / "export")
    qemu_img("create", "-q", "-f", fmt, tmp_path / "export" / "web.vmdk", "1M")
    export = read(vmx, tmp_path)
    assert export.formats == (fmt,)
    assert export.guest.disks[0].format == fmt
    assert export.guest.disks[0].virtual_size_bytes == MIB
    assert checks(export)["disk formats"] == Check("disk formats", ok, detail)


def test_a_malformed_vmx_raises(tmp_path: Path) -> None:
    vmx = vmx_export(tmp_path / "export")
    vmx.write_text(vmx.read_text().replace('memsize = "1024"', 'memsize = "lots"'))
    with pytest.raises(ImportSourceError) as raised:
        read(vmx, tmp_path)
    assert (raised.value.path, raised.value.line) == (str(vmx), 6)
    assert "memsize: got 'lots'" in raised.value.problem


# --- what is not an export ----------------------------------------------------------------------------------


@pytest.mark.parametrize(("name", "words"), [
    ("guest.txt", "unknown export type '.txt'"),
    ("guest.qcow2", "unknown export type '.qcow2'"),
    ("guest", "unknown export type '(no suffix)'"),
    ("guest.vmcx", "Hyper-V's .vmcx is a binary format balancerd cannot read"),
    ("GUEST.VMCX", "Hyper-V's .vmcx is a binary format balancerd cannot read"),
    ("guest.vmrs", "Hyper-V's .vmrs is a binary format balancerd cannot read"),
])
def test_what_is_not_an_export_is_refused(tmp_path: Path, name: str, words: str) -> None:
    path = tmp_path / name
    path.write_bytes(b"\0" * 64)
    with pytest.raises(ImportSourceError) as raised:
        read(path, tmp_path)
    assert raised.value.path == str(path)
    assert words in raised.value.problem


def test_a_vmgs_gets_the_hyperv_advice(tmp_path: Path) -> None:
    path = tmp_path / "guest.vmgs"
    path.write_bytes(b"\0" * 64)
    with pytest.raises(ImportSourceError) as raised:
        read(path, tmp_path)
    assert "Hyper-V's .vmgs is a binary format" in raised.value.problem


def test_a_missing_export_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ImportSourceError) as raised:
        read(tmp_path / "nothing.vmx", tmp_path)
    assert (raised.value.path, raised.value.problem) == (str(tmp_path / "nothing.vmx"), "no such file")


# --- Hyper-V ------------------------------------------------------------------------------------------------


def test_a_vhdx_with_its_spec_beside_it(tmp_path: Path) -> None:
    disk = tmp_path / "web1.vhdx"
    qemu_img("create", "-q", "-f", "vhdx", disk, "4M")
    shutil.copy(DATA / "web1.toml", tmp_path / "web1.toml")
    export = read(disk, tmp_path)
    assert (export.guest.format, export.guest.name, export.guest.firmware) == ("vhdx", "web1", "uefi")
    assert (export.guest.memory_bytes, export.guest.vcpus) == (2048 * MIB, 2)
    assert export.guest.disks == (SourceDisk("scsi", "web1.vhdx", "vhdx", 4 * MIB, "storvsc"),)
    assert export.guest.nics == (SourceNic("External", "00:15:5d:01:02:03", "netvsc"),)
    assert export.files == (disk,)
    assert export.formats == ("vhdx",)
    assert all(c.ok for c in export.checks)
    assert checks(export)["checksums"] == Check("checksums", True,
                                                "a vhdx export carries no manifest: nothing to verify")


def test_a_vhd_shows_as_vhd_and_converts_as_vpc(tmp_path: Path) -> None:
    disk = tmp_path / "old.vhd"
    qemu_img("create", "-q", "-f", "vpc", "-o", "force_size=on", disk, "4M")
    spec = tmp_path / "elsewhere.toml"
    spec.write_text('name = "old"\nmemory_mib = 512\n')
    export = read(disk, tmp_path, spec)
    assert export.guest.format == "vhd"
    assert export.guest.disks == (SourceDisk("ide", "old.vhd", "vhd", 4 * MIB, "ide"),)
    assert export.formats == ("vpc",)
    assert checks(export)["disk formats"] == Check("disk formats", True, "vhd")
    assert checks(export)["source complete"].ok


def test_a_vhdx_without_a_spec_is_refused_naming_the_spec(tmp_path: Path) -> None:
    disk = tmp_path / "web1.vhdx"
    qemu_img("create", "-q", "-f", "vhdx", disk, "1M")
    with pytest.raises(ImportSourceError) as raised:
        read(disk, tmp_path)
    assert raised.value.path == str(tmp_path / "web1.toml")
    assert raised.value.problem == "no spec for the VHDX disk web1.vhdx"


# --- OVF and OVA --------------------------------------------------------------------------------------------


def sha256_line(name: str, data: bytes) -> str:
    return f"SHA256({name})= {hashlib.sha256(data).hexdigest()}\n"


def ova(path: Path, members: list[tuple[str, bytes]]) -> Path:
    with tarfile.open(path, "w", format=tarfile.USTAR_FORMAT) as tar:
        for name, data in members:
            info = tarfile.TarInfo(name)
            info.size, info.mode = len(data), 0o644
            tar.addfile(info, io.BytesIO(data))
    return path


def test_an_ova_reads_and_its_manifest_is_verified(tmp_path: Path) -> None:
    descriptor = (DATA / "tiny.ovf").read_bytes()
    (tmp_path / "made").mkdir()
    disk = random_vmdk(tmp_path / "made" / "tiny-disk1.vmdk").read_bytes()
    mf = sha256_line("tiny.ovf", descriptor) + sha256_line("tiny-disk1.vmdk", disk)
    path = ova(tmp_path / "tiny.ova", [("tiny.ovf", descriptor), ("tiny.mf", mf.encode()),
                                       ("tiny-disk1.vmdk", disk)])
    export = read(path, tmp_path)
    assert (export.guest.format, export.guest.name, export.guest.vcpus) == ("ovf", "tiny", 2)
    assert export.guest.memory_bytes == 512 * MIB
    assert export.guest.disks == (SourceDisk("scsi", "tiny-disk1.vmdk", "vmdk", 4 * MIB, "lsilogic"),)
    assert export.guest.nics == (SourceNic("VM Network", "00:50:56:aa:bb:cc", "vmxnet3"),)
    assert export.files == (tmp_path / "work" / "ova" / "tiny-disk1.vmdk",)
    assert export.formats == ("vmdk",)
    assert export.checks == (
        Check("source readable", True, "every disk file is there"),
        Check("source complete", True, "1 disk(s) read and checked by qemu-img"),
        Check("disk formats", True, "vmdk"),
        Check("checksums", True, "every file the manifest lists matches its digest"))


@pytest.mark.parametrize(("listed", "detail"), [
    (("tiny.ovf",), "manifest verified; not listed in it: tiny-disk1.vmdk"),
    (None, "no manifest (.mf) in the package: nothing to verify"),
])
def test_an_ova_with_a_partial_or_no_manifest(tmp_path: Path, listed: tuple[str, ...] | None, detail: str) -> None:
    descriptor = (DATA / "tiny.ovf").read_bytes()
    (tmp_path / "made").mkdir()
    disk = random_vmdk(tmp_path / "made" / "tiny-disk1.vmdk", MIB).read_bytes()
    files = {"tiny.ovf": descriptor, "tiny-disk1.vmdk": disk}
    members = [("tiny.ovf", descriptor)]
    if listed is not None:
        members.append(("tiny.mf", "".join(sha256_line(n, files[n]) for n in listed).encode()))
    export = read(ova(tmp_path / "tiny.ova", [*members, ("tiny-disk1.vmdk", disk)]), tmp_path)
    assert checks(export)["checksums"] == Check("checksums", True, detail)


def test_an_ova_whose_disk_does_not_match_its_digest_is_refused(tmp_path: Path) -> None:
    descriptor = (DATA / "tiny.ovf").read_bytes()
    (tmp_path / "made").mkdir()
    disk = random_vmdk(tmp_path / "made" / "tiny-disk1.vmdk", MIB).read_bytes()
    mf = sha256_line("tiny.ovf", descriptor) + sha256_line("tiny-disk1.vmdk", disk + b"changed")
    path = ova(tmp_path / "tiny.ova", [("tiny.ovf", descriptor), ("tiny.mf", mf.encode()),
                                       ("tiny-disk1.vmdk", disk)])
    with pytest.raises(ImportSourceError) as raised:
        read(path, tmp_path)
    assert raised.value.path == str(tmp_path / "work" / "ova" / "tiny-disk1.vmdk")
    assert raised.value.problem.startswith("the SHA256 digest does not match the manifest: expected ")


def test_a_plain_ovf_folder_with_a_gzip_disk(tmp_path: Path) -> None:
    folder = tmp_path / "export"
    folder.mkdir()
    text = (DATA / "tiny.ovf").read_text().replace('ovf:href="tiny-disk1.vmdk"',
                                                   'ovf:href="tiny-disk1.vmdk.gz" ovf:compression="gzip"')
    (folder / "tiny.ovf").write_text(text)
    plain = random_vmdk(tmp_path / "tiny-disk1.vmdk", 2 * MIB)
    (folder / "tiny-disk1.vmdk.gz").write_bytes(gzip.compress(plain.read_bytes()))
    export = read(folder / "tiny.ovf", tmp_path)
    assert export.files == (tmp_path / "work" / "disks" / "tiny-disk1.vmdk.gz.plain",)
    assert export.guest.disks[0].virtual_size_bytes == 2 * MIB
    assert export.guest.disks[0].compression == "gzip"
    assert all(c.ok for c in export.checks), export.checks
    assert checks(export)["checksums"].detail == "no manifest (.mf) in the package: nothing to verify"


def test_a_corrupt_gzip_disk_fails_source_readable(tmp_path: Path) -> None:
    folder = tmp_path / "export"
    folder.mkdir()
    text = (DATA / "tiny.ovf").read_text().replace('ovf:href="tiny-disk1.vmdk"',
                                                   'ovf:href="tiny-disk1.vmdk.gz" ovf:compression="gzip"')
    (folder / "tiny.ovf").write_text(text)
    (folder / "tiny-disk1.vmdk.gz").write_bytes(b"not gzip at all")
    found = checks(read(folder / "tiny.ovf", tmp_path))
    assert found["source readable"] == Check("source readable", False, "tiny-disk1.vmdk.gz: the file is missing")


@pytest.mark.parametrize("kind", ["vmdk extent", "qcow2 backing file"])
def test_a_disk_that_reads_a_file_outside_the_package_is_refused(tmp_path: Path, kind: str) -> None:
    outside = tmp_path / "host-secret.raw"
    outside.write_bytes(b"host secret".ljust(MIB, b"\0"))
    folder = tmp_path / "export"
    folder.mkdir()
    shutil.copy(DATA / "tiny.ovf", folder / "tiny.ovf")
    disk = folder / "tiny-disk1.vmdk"
    if kind == "vmdk extent":
        disk.write_text('# Disk DescriptorFile\nversion=1\nCID=fffffffe\nparentCID=ffffffff\n'
                        f'createType="monolithicFlat"\n\nRW 2048 FLAT "{outside}" 0\n')
    else:
        qemu_img("create", "-q", "-f", "qcow2", "-b", outside, "-F", "raw", disk)
    try:
        export = read(folder / "tiny.ovf", tmp_path)
    except ImportSourceError:
        return
    assert not all(c.ok for c in export.checks), export.checks
