"""An OVF package's manifest (``.mf``): the digests of its files, and checking them.

Called by :func:`balancerd.importing.ova.verify_manifest`, which the import command's source reader
(:mod:`balancerd.importing.reading`) runs on an OVF / OVA before anything is converted: a file whose digest does
not match is refused. :func:`parse` is pure; :func:`verify` reads the files.

A manifest line is ``SHA256(name.ovf)= 0123...`` as ovftool and VirtualBox write it; SHA1 (older ovftool, OVF
1.0 VirtualBox) and SHA512 (``ovftool --shaAlgorithm=SHA512``) are read too, as are the ``SHA256 (name) = hex``
spacing of ``sha256sum --tag``, Windows line ends and a byte-order mark. Names are relative to the manifest's
folder and must stay inside it.
"""

from __future__ import annotations

import hashlib
import re
from pathlib import Path, PurePosixPath, PureWindowsPath

from balancerd.errors import ImportSourceError

_LINE = re.compile(r"\s*([A-Za-z0-9-]+)\s*\((.+)\)\s*=\s*([0-9A-Fa-f]+)\s*")
_HEX_DIGITS = {"sha1": 40, "sha256": 64, "sha512": 128}
_BLOCK = 1 << 20
_FIX = "write each line as SHA256(file name)= hex digest, or re-export the package to get a fresh manifest"


def parse(text: str, path: str) -> dict[str, tuple[str, str]]:
    """File name -> (hashlib algorithm name, lower-case hex digest) for every line of a manifest."""
    entries: dict[str, tuple[str, str]] = {}
    for number, line in enumerate(text.removeprefix("\ufeff").splitlines(), 1):
        if line.strip():
            name, entry = _entry(path, number, line)
            if entries.get(name, entry) != entry:
                raise ImportSourceError(path, f"{name!r} is listed twice with different digests", _FIX, number)
            entries[name] = entry
    return entries


def verify(entries: dict[str, tuple[str, str]], folder: Path, referenced: tuple[str, ...]) -> tuple[str, ...]:
    """Check every listed file in ``folder`` against its digest (the first missing or mismatching file raises
    :class:`ImportSourceError`); return the names of ``referenced`` that the manifest does not list, in order."""
    for name, (algorithm, expected) in entries.items():
        _check(_inside(folder, name), algorithm, expected)
    return tuple(dict.fromkeys(name for name in referenced if name not in entries))


def _entry(path: str, number: int, line: str) -> tuple[str, tuple[str, str]]:
    match = _LINE.fullmatch(line)
    if match is None:
        raise ImportSourceError(path, f"{line.strip()!r} is not a manifest line", _FIX, number)
    algorithm, name, digest = match[1].lower(), match[2], match[3].lower()
    if algorithm not in _HEX_DIGITS:
        raise ImportSourceError(path, f"{match[1]!r} is not SHA1, SHA256 or SHA512", _FIX, number)
    if len(digest) != _HEX_DIGITS[algorithm]:
        raise ImportSourceError(path, f"the {match[1]} digest of {name!r} has {len(digest)} hex digits, not "
                                f"{_HEX_DIGITS[algorithm]}", _FIX, number)
    if not _relative(name):
        raise ImportSourceError(path, f"{name!r} is not a file name inside the package", _FIX, number)
    return name, (algorithm, digest)


def _relative(name: str) -> bool:
    posix, windows = PurePosixPath(name), PureWindowsPath(name)
    return not (posix.is_absolute() or windows.is_absolute() or windows.drive or ".." in windows.parts)


def _inside(folder: Path, name: str) -> Path:
    path = folder / name
    if not _relative(name) or not path.resolve().is_relative_to(folder.resolve()):
        raise ImportSourceError(path, "the manifest names a file outside the package's folder", _FIX)
    return path


def _check(path: Path, algorithm: str, expected: str) -> None:
    got = _digest(path, algorithm)
    if got != expected:
        raise ImportSourceError(path, f"the {algorithm.upper()} digest does not match the manifest: expected "
                                f"{expected}, got {got}", "copy the package again (the file is damaged or was "
                                "changed after the export); balancerd refuses to convert it")


def _digest(path: Path, algorithm: str) -> str:
    digest = hashlib.new(algorithm)
    try:
        with path.open("rb") as stream:
            while block := stream.read(_BLOCK):
                digest.update(block)
    except FileNotFoundError as exc:
        raise ImportSourceError(path, "the manifest lists this file but it is missing", "copy the whole package "
                                "(every file the manifest lists) into one folder") from exc
    except OSError as exc:
        raise ImportSourceError(path, f"cannot read the file ({exc})", "check its permissions") from exc
    return digest.hexdigest()
