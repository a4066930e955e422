"""importing.manifest: parsing an OVF manifest (.mf) and checking the package's files against it."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from balancerd.errors import ImportSourceError
from balancerd.importing import manifest

SHA1_ABC = hashlib.sha1(b"abc").hexdigest()
SHA256_ABC = hashlib.sha256(b"abc").hexdigest()
SHA512_ABC = hashlib.sha512(b"abc").hexdigest()


@pytest.mark.parametrize(("line", "name", "entry"), [
    (f"SHA1(web01-disk1.vmdk)= {SHA1_ABC}", "web01-disk1.vmdk", ("sha1", SHA1_ABC)),
    (f"SHA256(web01.ovf)= {SHA256_ABC}", "web01.ovf", ("sha256", SHA256_ABC)),
    (f"SHA512(web01.ovf)= {SHA512_ABC}", "web01.ovf", ("sha512", SHA512_ABC)),
    (f"SHA256(web01.ovf)={SHA256_ABC}", "web01.ovf", ("sha256", SHA256_ABC)),
    (f"SHA256 (web01.ovf) = {SHA256_ABC.upper()}", "web01.ovf", ("sha256", SHA256_ABC)),
    (f"sha1(disk (1).vmdk)= {SHA1_ABC}  ", "disk (1).vmdk", ("sha1", SHA1_ABC)),
    (f"SHA1(disks/a b.vmdk)= {SHA1_ABC}", "disks/a b.vmdk", ("sha1", SHA1_ABC)),
])
def test_one_line(line: str, name: str, entry: tuple[str, str]) -> None:
    assert manifest.parse(line + "\n", "x.mf") == {name: entry}


def test_a_whole_manifest_with_bom_windows_line_ends_and_blank_lines() -> None:
    text = f"\ufeffSHA256(web01.ovf)= {SHA256_ABC}\r\n\r\nSHA256(web01-disk1.vmdk)= {SHA256_ABC}\r\n" \
           f"SHA256(web01.ovf)= {SHA256_ABC}\r\n"
    assert manifest.parse(text, "web01.mf") == {"web01.ovf": ("sha256", SHA256_ABC),
                                                "web01-disk1.vmdk": ("sha256", SHA256_ABC)}


@pytest.mark.parametrize(("text", "line", "problem"), [
    ("web01.ovf abc\n", 1, r"'web01\.ovf abc' is not a manifest line"),
    (f"SHA256(a)= {SHA256_ABC}\n{SHA256_ABC}  web01.ovf\n", 2, rf"'{SHA256_ABC}  web01\.ovf' is not a manifest line"),
    (f"\n\nMD5(web01.ovf)= {SHA1_ABC[:32]}\n", 3, r"'MD5' is not SHA1, SHA256 or SHA512"),
    ("SHA256(web01.ovf)= 1234\n", 1, r"the SHA256 digest of 'web01\.ovf' has 4 hex digits, not 64"),
    (f"SHA1(web01.ovf)= {SHA256_ABC}\n", 1, r"the SHA1 digest of 'web01\.ovf' has 64 hex digits, not 40"),
    (f"SHA1(../etc/passwd)= {SHA1_ABC}\n", 1, r"'\.\./etc/passwd' is not a file name inside the package"),
    (f"SHA1(/etc/passwd)= {SHA1_ABC}\n", 1, r"'/etc/passwd' is not a file name inside the package"),
    (f"SHA1(a)= {SHA1_ABC}\nSHA1(a)= {'0' * 40}\n", 2, r"'a' is listed twice with different digests"),
])
def test_bad_lines_name_the_line(text: str, line: int, problem: str) -> None:
    with pytest.raises(ImportSourceError, match=rf"^web01\.mf line {line}: {problem}; write each line as") as info:
        manifest.parse(text, "web01.mf")
    assert info.value.line == line


def write(folder: Path, files: dict[str, bytes]) -> None:
    for name, data in files.items():
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        (folder / name).write_bytes(data)


def test_matching_files_pass_and_unlisted_references_are_returned_in_order(tmp_path: Path) -> None:
    big = bytes(range(256)) * (10 * 4096 + 7)  # 2.5 MiB and a bit: read in several 1 MiB blocks
    write(tmp_path, {"a.ovf": b"abc", "a-disk1.vmdk": big, "sub/a.iso": b"iso"})
    entries = {"a.ovf": ("sha256", SHA256_ABC), "a-disk1.vmdk": ("sha1", hashlib.sha1(big).hexdigest())}
    referenced = ("a.ovf", "a-disk1.vmdk", "sub/a.iso", "a.nvram", "sub/a.iso")
    assert manifest.verify(entries, tmp_path, referenced) == ("sub/a.iso", "a.nvram")
    assert manifest.verify(entries, tmp_path, ("a.ovf",)) == ()


def test_the_first_mismatching_file_is_named_with_expected_and_got(tmp_path: Path) -> None:
    write(tmp_path, {"a.ovf": b"abc", "a-disk1.vmdk": b"tampered", "a-disk2.vmdk": b"also tampered"})
    entries = {"a.ovf": ("sha256", SHA256_ABC), "a-disk1.vmdk": ("sha256", SHA256_ABC),
               "a-disk2.vmdk": ("sha256", SHA256_ABC)}
    got = hashlib.sha256(b"tampered").hexdigest()
    with pytest.raises(ImportSourceError, match=rf"a-disk1\.vmdk: the SHA256 digest does not match the manifest: "
                       rf"expected {SHA256_ABC}, got {got}; copy the package again") as info:
        manifest.verify(entries, tmp_path, ())
    assert info.value.path == str(tmp_path / "a-disk1.vmdk")


def test_a_listed_file_that_is_missing_is_refused(tmp_path: Path) -> None:
    write(tmp_path, {"a.ovf": b"abc"})
    entries = {"a.ovf": ("sha1", SHA1_ABC), "a-disk1.vmdk": ("sha1", SHA1_ABC)}
    with pytest.raises(ImportSourceError, match=r"a-disk1\.vmdk: the manifest lists this file but it is missing"):
        manifest.verify(entries, tmp_path, ("a.ovf",))


def test_verify_refuses_names_outside_the_folder_even_if_entries_did_not_come_from_parse(tmp_path: Path) -> None:
    (tmp_path / "secret").write_bytes(b"abc")
    folder = tmp_path / "package"
    folder.mkdir()
    with pytest.raises(ImportSourceError, match=r"the manifest names a file outside the package's folder"):
        manifest.verify({"../secret": ("sha256", SHA256_ABC)}, folder, ())


def test_a_manifest_parsed_from_text_verifies_a_folder(tmp_path: Path) -> None:
    write(tmp_path, {"a.ovf": b"abc"})
    entries = manifest.parse(f"SHA512(a.ovf)= {SHA512_ABC}\n", "a.mf")
    assert manifest.verify(entries, tmp_path, ("a.ovf", "a-disk1.vmdk")) == ("a-disk1.vmdk",)
