"""OVA archives and OVF package files on disk: safe unpacking, the manifest check, chunked and gzip disks.

Called by the import command's source reader (:mod:`balancerd.importing.reading`), in this order:

1. :func:`unpack` an ``.ova`` (a tar: the ``.ovf`` first, then optionally the ``.mf`` and ``.cert``, then the
   disks; a gzip- or xz-compressed tar is read too, and the ``.ovf`` need not come first) into a work folder.
   Every member is checked before any is extracted: absolute names, ``..``, links, devices and names that would
   land outside the folder refuse the whole archive, and nothing is written.
2. :func:`verify_manifest` beside the ``.ovf`` (of an OVA or of a plain OVF folder). This must run BEFORE any
   conversion: a file whose digest does not match the manifest is refused; the names the OVF references but the
   manifest does not list are returned for the caller to report.
3. :func:`balancerd.importing.ovf.parse` the descriptor, then :func:`plain_disk` for each disk, which joins
   chunked files (:func:`join_chunks`) and decompresses gzip ones (:func:`gunzip`), so that qemu-img gets one
   plain disk file. OVF compresses a file first and chunks the compressed stream, so chunks are joined first.

A ``.cert`` is not checked (balancerd trusts the manifest, not the signer). The work folder should be fresh:
files already in it are not removed.
"""

from __future__ import annotations

import gzip
import re
import shutil
import tarfile
import zlib
from collections import Counter
from pathlib import Path, PurePosixPath, PureWindowsPath

from balancerd.errors import ImportSourceError
from balancerd.importing import manifest, ovf
from balancerd.importing.ovfpackage import Reference
from balancerd.importing.source import SourceDisk

_BLOCK = 1 << 20
_CHUNK_DIGITS = 9
_REPACK = "unpack the archive by hand, check its content, and import the .ovf it holds"


def unpack(ova: Path, workdir: Path) -> Path:
    """Extract ``ova`` into ``workdir`` (created if missing) after checking every member; the extracted ``.ovf``."""
    with _open(ova) as tar:
        members = _members(ova, tar)
        for member in members:
            _check_member(ova, member, workdir)
        descriptor = _descriptor(ova, members)
        _extract(ova, tar, members, workdir)
    return workdir / descriptor


def verify_manifest(ovf_path: Path) -> tuple[str, ...]:
    """Check the files of the package against the manifest beside ``ovf_path`` (``<stem>.mf``, else the folder's
    only ``.mf``); a missing or mismatching file raises :class:`ImportSourceError`. Return the names that the
    package references (the descriptor, its files or their chunks) but the manifest does not list: all of them
    when there is no manifest."""
    folder = ovf_path.parent
    referenced = (ovf_path.name, *_referenced(folder, ovf.references(_read_text(ovf_path), str(ovf_path))))
    found = _manifest_path(ovf_path)
    if found is None:
        return referenced
    entries = manifest.parse(_read_text(found), str(found))
    return manifest.verify(entries, folder, referenced)


def plain_disk(folder: Path, disk: SourceDisk, workdir: Path) -> Path:
    """One plain file holding ``disk``: its file in ``folder`` as it is, or joined and / or decompressed into
    ``workdir``."""
    source = folder / disk.file
    name = PurePosixPath(disk.file).name
    if disk.chunk_size:
        source = join_chunks(folder, disk.file, workdir / f"{name}.joined")
    if disk.compression != "gzip":
        return source
    plain = gunzip(source, workdir / f"{name}.plain")
    if disk.chunk_size:
        source.unlink()
    return plain


def join_chunks(folder: Path, href: str, out: Path) -> Path:
    """Concatenate ``href.000000000``, ``href.000000001``, ... of ``folder`` into ``out`` (streamed)."""
    chunks = chunk_names(folder, href)
    if not chunks:
        raise ImportSourceError(folder / href, f"no chunk files {href}.000000000, {href}.000000001, ... beside the "
                                "descriptor", "copy every chunk of the package into its folder")
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        with out.open("wb") as target:
            for chunk in chunks:
                with (folder / chunk).open("rb") as part:
                    shutil.copyfileobj(part, target, _BLOCK)
    except OSError as exc:
        raise ImportSourceError(out, f"cannot join the chunks of {href} ({exc})", "check free space") from exc
    return out


def gunzip(src: Path, out: Path) -> Path:
    """Decompress the gzip file ``src`` into ``out`` (streamed)."""
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        with gzip.open(src, "rb") as packed, out.open("wb") as target:
            shutil.copyfileobj(packed, target, _BLOCK)
    except (OSError, EOFError, zlib.error) as exc:
        raise ImportSourceError(src, f"cannot decompress the gzip file ({exc})", "copy the package again; the "
                                "OVF says this file is gzip-compressed (ovf:compression)") from exc
    return out


def chunk_names(folder: Path, href: str) -> tuple[str, ...]:
    """The chunk files of ``href`` in ``folder``, in order (empty when there are none); a gap raises."""
    base = folder / href
    pattern = re.compile(re.escape(base.name) + r"\.(\d{9})")
    found = sorted((int(m[1]), m[0]) for m in map(pattern.fullmatch, _names(base.parent)) if m is not None)
    indices = {index for index, _ in found}
    if indices != set(range(len(found))):
        missing = min(set(range(len(found))) - indices)
        raise ImportSourceError(base, f"chunk {href}.{missing:0{_CHUNK_DIGITS}d} is missing",
                                "copy every chunk of the package into its folder")
    prefix = str(PurePosixPath(href).parent)
    return tuple(name if prefix == "." else f"{prefix}/{name}" for _, name in found)


# --- unpacking --------------------------------------------------------------------------------------------------


def _open(ova: Path) -> tarfile.TarFile:
    try:
        with ova.open("rb") as stream:
            magic = stream.read(4)
        if magic == b"PK\x03\x04":
            raise ImportSourceError(ova, "not an OVA (tar) file: it is a zip archive", "unzip it and import the .ovf")
        return tarfile.open(ova, "r:*")
    except tarfile.TarError as exc:
        raise ImportSourceError(ova, f"not an OVA (tar) file: {exc}", "give an .ova exported by ovftool, vCenter or "
                                "VirtualBox, or the .ovf of an unpacked package") from exc
    except OSError as exc:
        raise ImportSourceError(ova, f"cannot read the file ({exc})", "check the path and its permissions") from exc


def _members(ova: Path, tar: tarfile.TarFile) -> list[tarfile.TarInfo]:
    try:
        members = tar.getmembers()
    except (tarfile.TarError, OSError, EOFError) as exc:
        raise ImportSourceError(ova, f"the tar archive is damaged ({exc})", "copy the .ova again") from exc
    counts = Counter(PurePosixPath(member.name).as_posix() for member in members if not member.isdir())
    twice = sorted(name for name, count in counts.items() if count > 1)
    if twice:
        raise ImportSourceError(ova, f"the archive holds {', '.join(twice)} more than once", _REPACK)
    return members


def _check_member(ova: Path, member: tarfile.TarInfo, workdir: Path) -> None:
    name = member.name
    problem = _member_kind(member) or _member_path(name, workdir)
    if problem:
        raise ImportSourceError(ova, f"refusing the archive: member {name!r} {problem}; nothing was extracted",
                                _REPACK)


def _member_kind(member: tarfile.TarInfo) -> str:
    if member.isfile() or member.isdir():
        return ""
    kinds = ((member.issym(), "a symbolic link"), (member.islnk(), "a hard link"),
             (member.ischr() or member.isblk(), "a device"), (member.isfifo(), "a FIFO"))
    return "is " + next((kind for test, kind in kinds if test), "a special file") + ", not a regular file"


def _member_path(name: str, workdir: Path) -> str:
    windows = PureWindowsPath(name)
    if not name or PurePosixPath(name).is_absolute() or windows.is_absolute() or windows.drive:
        return "has an absolute path"
    if ".." in windows.parts:
        return "has a '..' component"
    if not (workdir / name).resolve().is_relative_to(workdir.resolve()):
        return "would land outside the work folder"
    return ""


def _descriptor(ova: Path, members: list[tarfile.TarInfo]) -> str:
    found = [PurePosixPath(m.name).as_posix() for m in members if m.isfile() and m.name.lower().endswith(".ovf")]
    if len(found) != 1:
        problem = "holds no .ovf descriptor" if not found else f"holds {len(found)} descriptors ({', '.join(found)})"
        raise ImportSourceError(ova, f"the archive {problem}; an OVA holds exactly one", _REPACK)
    return found[0]


def _extract(ova: Path, tar: tarfile.TarFile, members: list[tarfile.TarInfo], workdir: Path) -> None:
    try:
        workdir.mkdir(parents=True, exist_ok=True)
        if hasattr(tarfile, "data_filter"):
            tar.extractall(workdir, members=members, filter="data")
        else:  # Python 3.11 before 3.11.4: every member was checked above
            tar.extractall(workdir, members=members)
    except (tarfile.TarError, OSError, EOFError) as exc:
        raise ImportSourceError(ova, f"cannot extract the archive ({exc})", "check free space in " + str(workdir)
                                + " and copy the .ova again") from exc


# --- the manifest check -----------------------------------------------------------------------------------------


def _read_text(path: Path) -> str:
    try:
        return path.read_bytes().decode("utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise ImportSourceError(path, f"cannot read the file as UTF-8 text ({exc})", "check the path") from exc


def _referenced(folder: Path, references: tuple[Reference, ...]) -> tuple[str, ...]:
    names: list[str] = []
    for reference in references:
        chunks = chunk_names(folder, reference.href) if reference.chunk_size else ()
        names.extend(chunks or (reference.href,))
    return tuple(names)


def _manifest_path(ovf_path: Path) -> Path | None:
    same_stem = ovf_path.with_suffix(".mf")
    if same_stem.is_file():
        return same_stem
    found = sorted(path for path in ovf_path.parent.glob("*.mf") if path.is_file())
    if len(found) > 1:
        raise ImportSourceError(ovf_path.parent, f"{len(found)} manifests ({', '.join(p.name for p in found)}) and "
                                f"none named {same_stem.name}", "keep only the package's own manifest")
    return found[0] if found else None


def _names(folder: Path) -> list[str]:
    try:
        return [path.name for path in folder.iterdir()]
    except OSError:
        return []
