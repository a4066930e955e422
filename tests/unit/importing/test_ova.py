"""importing.ova: unpacking OVA tars safely, the manifest check before conversion, chunked and gzip disk files."""

from __future__ import annotations

import gzip
import hashlib
import io
import tarfile
import zipfile
from collections.abc import Callable
from pathlib import Path

import pytest

from balancerd.errors import ImportSourceError
from balancerd.importing import ova, ovf
from balancerd.importing.source import SourceDisk

DATA = Path(__file__).parent / "data" / "ovf"
WEB01 = (DATA / "vmware-ovf1-web01.ovf").read_bytes()
DISKS = {"web01-disk1.vmdk": b"disk one", "web01-disk2.vmdk": b"disk two", "web01-disk3.vmdk": b"disk three",
         "web01-disk4.vmdk": b"disk four", "web01-file1.iso": b"iso image"}
Member = tuple[tarfile.TarInfo, bytes | None]


def regular(name: str, data: bytes) -> Member:
    info = tarfile.TarInfo(name)
    info.size, info.mode = len(data), 0o644
    return info, data


def special(name: str, kind: bytes, linkname: str = "") -> Member:
    info = tarfile.TarInfo(name)
    info.type, info.linkname = kind, linkname
    return info, None


def build(path: Path, members: list[Member]) -> Path:
    with tarfile.open(path, "w", format=tarfile.USTAR_FORMAT) as tar:
        for info, data in members:
            tar.addfile(info, None if data is None else io.BytesIO(data))
    return path


def manifest_of(files: dict[str, bytes], algorithm: str = "sha256") -> bytes:
    lines = (f"{algorithm.upper()}({name})= {hashlib.new(algorithm, data).hexdigest()}\n" for name, data in
             files.items())
    return "".join(lines).encode()


def web01(mf: bytes | None = None) -> list[Member]:
    """The members of web01.ova in ovftool's order: descriptor, manifest, then the files."""
    head = [regular("web01.ovf", WEB01)] + ([regular("web01.mf", mf)] if mf is not None else [])
    return head + [regular(name, data) for name, data in DISKS.items()]


def everything(root: Path) -> set[Path]:
    return set(root.rglob("*"))


def test_a_good_ova_unpacks_into_the_work_folder_and_its_descriptor_parses(tmp_path: Path) -> None:
    archive = build(tmp_path / "web01.ova", web01(manifest_of({"web01.ovf": WEB01, **DISKS})))
    descriptor = ova.unpack(archive, tmp_path / "work")
    assert descriptor == tmp_path / "work" / "web01.ovf"
    assert sorted(p.name for p in (tmp_path / "work").iterdir()) == sorted(["web01.ovf", "web01.mf", *DISKS])
    assert all((tmp_path / "work" / name).read_bytes() == data for name, data in DISKS.items())
    assert ovf.parse(descriptor.read_text(), str(descriptor)).name == "web01"


def test_an_ova_with_a_folder_inside_returns_the_descriptor_in_it(tmp_path: Path) -> None:
    folder = tarfile.TarInfo("web01")
    folder.type, folder.mode = tarfile.DIRTYPE, 0o755
    members = [(folder, None), regular("web01/web01.ovf", WEB01), regular("web01/web01-disk1.vmdk", b"d")]
    descriptor = ova.unpack(build(tmp_path / "x.ova", members), tmp_path / "work")
    assert descriptor == tmp_path / "work" / "web01" / "web01.ovf"
    assert descriptor.read_bytes() == WEB01


@pytest.mark.parametrize(("make", "problem"), [
    (lambda root: regular("../evil", b"evil"), r"member '\.\./evil' has a '\.\.' component"),
    (lambda root: regular("disks/../../evil", b"evil"), r"member 'disks/\.\./\.\./evil' has a '\.\.' component"),
    (lambda root: regular(str(root / "outside" / "abs.txt"), b"evil"), r"member '/.*/outside/abs\.txt' has an "
     r"absolute path"),
    (lambda root: special("link", tarfile.SYMTYPE, "/etc/passwd"), r"member 'link' is a symbolic link, not a regular"),
    (lambda root: special("inner", tarfile.SYMTYPE, "web01.ovf"), r"member 'inner' is a symbolic link"),
    (lambda root: special("hard", tarfile.LNKTYPE, "web01.ovf"), r"member 'hard' is a hard link"),
    (lambda root: special("sda", tarfile.BLKTYPE), r"member 'sda' is a device"),
    (lambda root: special("tty", tarfile.CHRTYPE), r"member 'tty' is a device"),
    (lambda root: special("pipe", tarfile.FIFOTYPE), r"member 'pipe' is a FIFO"),
])
def test_an_unsafe_member_refuses_the_whole_archive_and_nothing_is_written(
        tmp_path: Path, make: Callable[[Path], Member], problem: str) -> None:
    archive = build(tmp_path / "evil.ova", [*web01(), make(tmp_path)])  # the unsafe member comes last
    with pytest.raises(ImportSourceError, match=rf"^{tmp_path}/evil\.ova: refusing the archive: {problem}.*; "
                       r"nothing was extracted; unpack the archive by hand"):
        ova.unpack(archive, tmp_path / "work" / "ova")
    assert everything(tmp_path) == {archive}  # no work folder, no ../evil, no absolute file, no link


def test_the_absolute_member_really_is_stored_absolute(tmp_path: Path) -> None:
    target = str(tmp_path / "outside" / "abs.txt")
    with tarfile.open(build(tmp_path / "a.ova", [regular(target, b"x")])) as tar:
        assert tar.getnames() == [target]


def test_a_member_below_a_symlinked_work_folder_entry_would_land_outside(tmp_path: Path) -> None:
    (tmp_path / "elsewhere").mkdir()
    (tmp_path / "work").mkdir()
    (tmp_path / "work" / "disks").symlink_to(tmp_path / "elsewhere")
    archive = build(tmp_path / "x.ova", [regular("web01.ovf", WEB01), regular("disks/d.vmdk", b"d")])
    with pytest.raises(ImportSourceError, match=r"member 'disks/d\.vmdk' would land outside the work folder"):
        ova.unpack(archive, tmp_path / "work")
    assert list((tmp_path / "elsewhere").iterdir()) == [] and not (tmp_path / "work" / "web01.ovf").exists()


def test_a_file_that_is_not_a_tar_is_not_an_ova(tmp_path: Path) -> None:
    (tmp_path / "web01.ova").write_text("<Envelope/>")
    with pytest.raises(ImportSourceError, match=r"web01\.ova: not an OVA \(tar\) file: "):
        ova.unpack(tmp_path / "web01.ova", tmp_path / "work")
    assert not (tmp_path / "work").exists()


def test_a_zip_is_not_an_ova_and_the_fix_says_unzip(tmp_path: Path) -> None:
    with zipfile.ZipFile(tmp_path / "web01.ova", "w") as archive:
        archive.writestr("web01.ovf", WEB01)
    with pytest.raises(ImportSourceError, match=r"not an OVA \(tar\) file: it is a zip archive; unzip it"):
        ova.unpack(tmp_path / "web01.ova", tmp_path / "work")


def test_a_missing_ova_cannot_be_read(tmp_path: Path) -> None:
    with pytest.raises(ImportSourceError, match=r"nope\.ova: cannot read the file"):
        ova.unpack(tmp_path / "nope.ova", tmp_path / "work")


@pytest.mark.parametrize(("members", "problem"), [
    ([regular("web01-disk1.vmdk", b"d")], r"the archive holds no \.ovf descriptor; an OVA holds exactly one"),
    ([regular("a.ovf", WEB01), regular("b.ovf", WEB01)], r"the archive holds 2 descriptors \(a\.ovf, b\.ovf\)"),
    ([regular("web01.ovf", WEB01), regular("d.vmdk", b"1"), regular("./d.vmdk", b"2")],
     r"the archive holds d\.vmdk more than once"),
])
def test_the_descriptor_must_be_there_once_and_members_unique(tmp_path: Path, members: list[Member],
                                                             problem: str) -> None:
    with pytest.raises(ImportSourceError, match=problem):
        ova.unpack(build(tmp_path / "x.ova", members), tmp_path / "work")
    assert not (tmp_path / "work").exists()


# --- the manifest check -----------------------------------------------------------------------------------------


@pytest.mark.parametrize("algorithm", ["sha256", "sha1", "sha512"])
def test_a_matching_manifest_passes_and_lists_nothing_unlisted(tmp_path: Path, algorithm: str) -> None:
    archive = build(tmp_path / "web01.ova", web01(manifest_of({"web01.ovf": WEB01, **DISKS}, algorithm)))
    assert ova.verify_manifest(ova.unpack(archive, tmp_path / "work")) == ()


def test_a_bad_sha256_in_the_manifest_refuses_the_package(tmp_path: Path) -> None:
    mf = manifest_of({"web01.ovf": WEB01, **DISKS, "web01-disk2.vmdk": b"what the export wrote"})
    descriptor = ova.unpack(build(tmp_path / "web01.ova", web01(mf)), tmp_path / "work")
    expected = hashlib.sha256(b"what the export wrote").hexdigest()
    got = hashlib.sha256(b"disk two").hexdigest()
    with pytest.raises(ImportSourceError, match=rf"web01-disk2\.vmdk: the SHA256 digest does not match the manifest: "
                       rf"expected {expected}, got {got}; copy the package again .* refuses to convert it"):
        ova.verify_manifest(descriptor)


def test_files_the_manifest_does_not_list_are_returned(tmp_path: Path) -> None:
    mf = manifest_of({"web01.ovf": WEB01, "web01-disk1.vmdk": DISKS["web01-disk1.vmdk"]})
    descriptor = ova.unpack(build(tmp_path / "web01.ova", web01(mf)), tmp_path / "work")
    assert ova.verify_manifest(descriptor) == ("web01-disk2.vmdk", "web01-disk3.vmdk", "web01-disk4.vmdk",
                                               "web01-file1.iso")


def test_without_a_manifest_every_referenced_name_is_unlisted(tmp_path: Path) -> None:
    descriptor = ova.unpack(build(tmp_path / "web01.ova", web01()), tmp_path / "work")
    assert ova.verify_manifest(descriptor) == ("web01.ovf", *DISKS)


def test_a_single_manifest_of_another_name_is_used(tmp_path: Path) -> None:
    (tmp_path / "web01.ovf").write_bytes(WEB01)
    (tmp_path / "export.mf").write_bytes(manifest_of({"web01.ovf": b"another descriptor"}))
    with pytest.raises(ImportSourceError, match=r"web01\.ovf: the SHA256 digest does not match the manifest"):
        ova.verify_manifest(tmp_path / "web01.ovf")


def test_several_manifests_of_other_names_are_refused(tmp_path: Path) -> None:
    (tmp_path / "web01.ovf").write_bytes(WEB01)
    for name in ("a.mf", "b.mf"):
        (tmp_path / name).write_bytes(manifest_of({"web01.ovf": WEB01}))
    with pytest.raises(ImportSourceError, match=r"2 manifests \(a\.mf, b\.mf\) and none named web01\.mf"):
        ova.verify_manifest(tmp_path / "web01.ovf")


def test_the_manifest_check_covers_chunk_files(tmp_path: Path) -> None:
    descriptor = tmp_path / "db02.ovf"
    descriptor.write_bytes((DATA / "chunked-gzip-db02.ovf").read_bytes())
    files = {"db02-disk1.vmdk.000000000": b"c0", "db02-disk1.vmdk.000000001": b"c1", "db02-disk2.vmdk": b"d2",
             "data/db02-disk3.vmdk.000000000": b"d3"}
    for name, data in files.items():
        (tmp_path / name).parent.mkdir(exist_ok=True)
        (tmp_path / name).write_bytes(data)
    listed = {"db02.ovf": descriptor.read_bytes(), **{k: v for k, v in files.items() if not k.startswith("data/")}}
    (tmp_path / "db02.mf").write_bytes(manifest_of(listed))
    assert ova.verify_manifest(descriptor) == ("data/db02-disk3.vmdk.000000000",)


# --- chunked and compressed disk files --------------------------------------------------------------------------

PLAIN = bytes(range(256)) * 9000  # 2.2 MB: more than one 1 MiB block
PACKED = gzip.compress(PLAIN)


def chunk(folder: Path, href: str, data: bytes, size: int) -> None:
    for index, start in enumerate(range(0, len(data), size)):
        path = folder / f"{href}.{index:09d}"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data[start:start + size])


def test_chunks_are_joined_in_numeric_order(tmp_path: Path) -> None:
    chunk(tmp_path, "data/d.vmdk", PLAIN, len(PLAIN) // 11 + 1)  # 11 chunks: ...000000010 sorts after ...009
    assert ova.chunk_names(tmp_path, "data/d.vmdk")[-2:] == ("data/d.vmdk.000000009", "data/d.vmdk.000000010")
    out = ova.join_chunks(tmp_path, "data/d.vmdk", tmp_path / "out" / "d.vmdk")
    assert out.read_bytes() == PLAIN


def test_a_missing_chunk_or_no_chunk_at_all_is_named(tmp_path: Path) -> None:
    chunk(tmp_path, "d.vmdk", b"abcdef", 2)
    (tmp_path / "d.vmdk.000000001").unlink()
    with pytest.raises(ImportSourceError, match=r"d\.vmdk: chunk d\.vmdk\.000000001 is missing"):
        ova.join_chunks(tmp_path, "d.vmdk", tmp_path / "out.vmdk")
    with pytest.raises(ImportSourceError, match=r"e\.vmdk: no chunk files e\.vmdk\.000000000, e\.vmdk\.000000001"):
        ova.join_chunks(tmp_path, "e.vmdk", tmp_path / "out.vmdk")
    assert not (tmp_path / "out.vmdk").exists()


def test_gunzip_streams_and_refuses_what_is_not_gzip(tmp_path: Path) -> None:
    (tmp_path / "d.vmdk").write_bytes(PACKED)
    assert ova.gunzip(tmp_path / "d.vmdk", tmp_path / "plain.vmdk").read_bytes() == PLAIN
    (tmp_path / "bad.vmdk").write_bytes(b"KDMV not gzip")
    with pytest.raises(ImportSourceError, match=r"bad\.vmdk: cannot decompress the gzip file"):
        ova.gunzip(tmp_path / "bad.vmdk", tmp_path / "x")
    (tmp_path / "cut.vmdk").write_bytes(PACKED[: len(PACKED) // 2])
    with pytest.raises(ImportSourceError, match=r"cut\.vmdk: cannot decompress the gzip file"):
        ova.gunzip(tmp_path / "cut.vmdk", tmp_path / "y")


@pytest.mark.parametrize(("chunk_size", "compression", "expected"), [
    (0, "", "package/d.vmdk"), (0, "gzip", "work/d.vmdk.plain"), (1 << 20, "", "work/d.vmdk.joined"),
    (1 << 20, "gzip", "work/d.vmdk.plain"),
])
def test_plain_disk_gives_one_plain_file(tmp_path: Path, chunk_size: int, compression: str, expected: str) -> None:
    folder, work = tmp_path / "package", tmp_path / "work"
    data = PACKED if compression else PLAIN
    if chunk_size:
        chunk(folder, "d.vmdk", data, chunk_size)
    else:
        folder.mkdir()
        (folder / "d.vmdk").write_bytes(data)
    disk = SourceDisk(bus="scsi", file="d.vmdk", format="vmdk", compression=compression, chunk_size=chunk_size)
    plain = ova.plain_disk(folder, disk, work)
    assert plain == tmp_path / expected and plain.read_bytes() == PLAIN
    kept = {p.relative_to(tmp_path).as_posix() for p in everything(work)} if work.exists() else set()
    assert kept == ({expected} if expected.startswith("work/") else set())  # the joined gzip stream is not kept
