"""The maintenance file: one host name per line, ``#`` comments, optionally followed by the word ``force``.

Lines are in the order hosts entered maintenance, which is the order the planner drains them in. ``force`` (written
by ``balancerctl drain --force HOST``) drains the host even when its whole evacuation does not fit: what fits
leaves, the rest stays with its reasons. The daemon re-reads it every cycle and on SIGUSR1 (through
:mod:`balancerd.service.maintwatch`, which keeps the last good set when the file is broken); ``balancerctl
maintenance enter|exit`` and the control API edit it (atomically, keeping comments). Hosts listed here are cordoned
and drained.

Only a regular file is read: the daemon runs as root, so a symbolic link (which could point anywhere) is refused,
and a FIFO or device (which could block a read forever) is refused without blocking. Binary content and files over 1
MiB are refused too; every refusal is a :class:`~balancerd.errors.StateError` naming the path, what is wrong and
what to do.
"""

from __future__ import annotations

import errno
import os
import stat
import tempfile
from pathlib import Path

from balancerd.errors import StateError

MAX_BYTES = 1 << 20


FORCE = "force"


def parse(text: str) -> frozenset[str]:
    """Host names in the file's text: first word of each line, comments and blanks ignored."""
    return frozenset(host for host, _ in entries(text))


def entries(text: str) -> tuple[tuple[str, bool], ...]:
    """(host, forced) per listed host, in file order; a host listed twice counts once, forced if either is."""
    found: dict[str, bool] = {}
    for line in text.splitlines():
        words = line.split("#", 1)[0].split()
        if words:
            found[words[0]] = found.get(words[0], False) or FORCE in words[1:]
    return tuple(found.items())


def read(path: Path) -> frozenset[str]:
    """Hosts in maintenance; a missing file means none."""
    return frozenset(host for host, _ in read_entries(path))


def read_entries(path: Path) -> tuple[tuple[str, bool], ...]:
    """(host, forced) in the order hosts entered maintenance; a missing file means none."""
    text = read_text(path)
    return () if text is None else entries(text)


def read_text(path: Path) -> str | None:
    """The file's text (None when it does not exist), read only if it is a small regular text file."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC)
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise StateError(_refusal(path, exc)) from exc
    try:
        return _decode(path, _read_regular(path, fd))
    finally:
        os.close(fd)


def _refusal(path: Path, exc: OSError) -> str:
    if exc.errno == errno.ELOOP:
        return (f"maintenance file {path} is a symbolic link; balancerd reads only a regular file there "
                "(replace the link with a file)")
    return f"cannot read maintenance file {path}: {exc.strerror or exc}"


def _read_regular(path: Path, fd: int) -> bytes:
    info = os.fstat(fd)
    if not stat.S_ISREG(info.st_mode):
        raise StateError(f"maintenance file {path} is not a regular file (a FIFO, device or directory); "
                         "replace it with a text file, one host per line")
    if info.st_size > MAX_BYTES:
        raise StateError(f"maintenance file {path} has {info.st_size} bytes, more than {MAX_BYTES}: "
                         "it should hold one host name per line")
    try:
        return os.read(fd, MAX_BYTES + 1)
    except OSError as exc:
        raise StateError(f"cannot read maintenance file {path}: {exc.strerror or exc}") from exc


def _decode(path: Path, data: bytes) -> str:
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise StateError(f"maintenance file {path} is not UTF-8 text (byte {exc.start}); it should hold one "
                         "host name per line") from exc
    bad = next((c for c in text if c not in "\t\n\r" and (ord(c) < 32 or ord(c) == 127)), None)
    if bad is not None:
        raise StateError(f"maintenance file {path} holds binary content (control character {ord(bad):#04x}); "
                         "it should hold one host name per line")
    return text


def enter(path: Path, host: str, force: bool = False) -> bool:
    """Add ``host`` (with ``force``, mark it forced, in place: it keeps its turn); False if nothing changed."""
    lines = _lines(path)
    listed = dict(entries("\n".join(lines)))
    if host in listed and (listed[host] or not force):
        return False
    if host not in listed:
        _write(path, [*lines, f"{host} {FORCE}" if force else host])
        return True
    first = next(i for i, line in enumerate(lines) if parse(line) == frozenset({host}))
    _write(path, [f"{host} {FORCE}" + _comment(lines[first]) if i == first else line for i, line in enumerate(lines)])
    return True


def write_entries(path: Path, listed: tuple[tuple[str, bool], ...], header: str) -> None:
    """Replace the file with ``listed`` (one host per line, ``force`` marks) under a ``header`` comment."""
    _write(path, [header, *(f"{host} {FORCE}" if force else host for host, force in listed)])


def _comment(line: str) -> str:
    return " #" + line.split("#", 1)[1] if "#" in line else ""


def leave(path: Path, host: str) -> bool:
    """Remove every line naming ``host``; False if it was not listed."""
    lines = _lines(path)
    kept = [line for line in lines if parse(line) != frozenset({host})]
    if len(kept) == len(lines):
        return False
    _write(path, kept)
    return True


def _lines(path: Path) -> list[str]:
    text = read_text(path)  # a symlink is refused here: its target is never copied into the file
    if text is None:
        return ["# hosts in maintenance, one per line (managed by balancerctl)"]
    return text.splitlines()


def _write(path: Path, lines: list[str]) -> None:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".maintenance.")
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write("\n".join(lines) + "\n")
        os.replace(tmp, path)
    except OSError as exc:
        raise StateError(f"cannot write maintenance file {path}: {exc}") from exc
