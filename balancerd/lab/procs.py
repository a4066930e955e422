"""Processes the lab started: liveness, guarded signals and waiting, always by PID.

Used by daemons.py (starting libvirtd), lifecycle.py (teardown) and status.py. Every kill is guarded by
``/proc/PID/cmdline`` containing an expected word, so a stale PID that the kernel reused for something
else is never signalled. Zombies count as gone (this machine's PID 1 reaps late, lab-notes §10).
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import time
from collections.abc import Iterable, Sequence
from pathlib import Path


def cmdline(pid: int) -> str:
    """The command line of ``pid`` with NULs as spaces, or '' if it is gone."""
    try:
        raw = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return ""
    return raw.replace(b"\0", b" ").decode(errors="replace").strip()


def is_zombie(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[-1].split()[0] == "Z"


def alive(pid: int) -> bool:
    """Whether ``pid`` exists and is not a zombie (reaping it if it is our own child)."""
    _reap(pid)
    return Path(f"/proc/{pid}").exists() and not is_zombie(pid)


def matches(pid: int, words: Sequence[str]) -> bool:
    """Whether ``pid`` is alive and its command line contains every one of ``words``."""
    line = cmdline(pid)
    return alive(pid) and bool(line) and all(w in line for w in words)


def _reap(pid: int) -> None:
    with contextlib.suppress(ChildProcessError):
        os.waitpid(pid, os.WNOHANG)


def signal_guarded(pid: int, words: Sequence[str], sig: signal.Signals) -> bool:
    """Send ``sig`` to ``pid`` only if its command line contains ``words``; return whether sent."""
    if not matches(pid, words):
        return False
    try:
        os.kill(pid, sig)
    except ProcessLookupError:
        return False
    return True


def wait_gone(pids: Iterable[int], timeout_s: float) -> list[int]:
    """Wait until none of ``pids`` is alive or the timeout passes; return the survivors."""
    remaining = list(pids)
    deadline = time.monotonic() + timeout_s
    while remaining and time.monotonic() < deadline:
        time.sleep(0.05)
        remaining = [p for p in remaining if alive(p)]
    return [p for p in remaining if alive(p)]


def read_pidfile(path: Path) -> int | None:
    try:
        return int(path.read_text().strip())
    except (OSError, ValueError):
        return None


def find_by_cmdline(words: Sequence[str]) -> list[int]:
    """Every live process whose command line contains all of ``words``."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit() and matches(int(entry.name), words):
            found.append(int(entry.name))
    return found


def run(argv: Sequence[str], check: bool = True) -> subprocess.CompletedProcess[str]:
    """Run a short helper command (ip, mount, ...) and capture its output."""
    return subprocess.run(list(argv), check=check, capture_output=True, text=True, stdin=subprocess.DEVNULL)
