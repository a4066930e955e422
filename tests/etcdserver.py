"""A real etcd (Debian's etcd-server) for the tests: 127.0.0.1, free ports, a temporary data directory.

Started by :func:`start` (or the ``etcd_server`` / ``private_etcd`` fixtures of tests/conftest.py, through
:func:`running_etcd`: without etcd installed they skip, unless ``BALANCERD_E2E_REQUIRED`` is set, then they
fail, so a CI that must run them cannot pass by skipping), stopped by its pid (:meth:`EtcdServer.stop`);
:meth:`EtcdServer.freeze` and :meth:`EtcdServer.thaw` pause it with SIGSTOP / SIGCONT (a hung etcd),
:meth:`EtcdServer.restart` brings a stopped one back on the same ports and data. Readiness is waited on by
asking ``/health``, with a deadline from what was measured (first answer 0.5-0.9 s after start on the 2-core
machine; ten times that allowed).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import socket
import subprocess
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

ETCD = "/usr/bin/etcd"
READY_S = 10.0
"""Measured: 0.53-0.86 s from exec to the first answer; ten times that."""


def available() -> bool:
    return Path(ETCD).exists() or shutil.which("etcd") is not None


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class EtcdServer:
    data_dir: Path
    client_port: int
    peer_port: int
    log_path: Path
    process: subprocess.Popen[bytes] | None = field(default=None)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.client_port}"

    def launch(self) -> None:
        peer = f"http://127.0.0.1:{self.peer_port}"
        env = {k: v for k, v in os.environ.items() if not k.startswith("ETCD_")}  # the package's defaults
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(
                [shutil.which("etcd") or ETCD, "--name", "test", "--data-dir", str(self.data_dir),
                 "--listen-client-urls", self.url, "--advertise-client-urls", self.url,
                 "--listen-peer-urls", peer, "--initial-advertise-peer-urls", peer,
                 "--initial-cluster", f"test={peer}", "--initial-cluster-state", "new"],
                stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=env)
        self.wait_ready()

    def wait_ready(self) -> None:
        deadline = time.monotonic() + READY_S
        while time.monotonic() < deadline:
            assert self.process is not None
            if self.process.poll() is not None:
                raise RuntimeError(f"etcd exited with {self.process.returncode}; see {self.log_path}")
            if self.healthy():
                return
            time.sleep(0.05)
        raise RuntimeError(f"etcd did not answer within {READY_S} s; see {self.log_path}")

    def healthy(self) -> bool:
        try:
            with _opener().open(self.url + "/health", timeout=1.0) as answer:
                return bool(json.loads(answer.read()).get("health") in ("true", True))
        except (OSError, ValueError):
            return False

    def stop(self) -> None:
        """Stop it by pid (thawing it first if frozen); waits for the exit."""
        if self.process is None or self.process.poll() is not None:
            return
        os.kill(self.process.pid, signal.SIGCONT)
        self.process.terminate()
        try:
            self.process.wait(10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(10)

    def restart(self) -> None:
        self.stop()
        self.launch()

    def freeze(self) -> None:
        assert self.process is not None
        os.kill(self.process.pid, signal.SIGSTOP)

    def thaw(self) -> None:
        assert self.process is not None
        os.kill(self.process.pid, signal.SIGCONT)


def _opener() -> urllib.request.OpenerDirector:
    return urllib.request.build_opener(urllib.request.ProxyHandler({}))  # never a proxy from the environment


def start(directory: Path) -> EtcdServer:
    """A new single-member etcd with its data and log under ``directory``."""
    directory.mkdir(parents=True, exist_ok=True)
    server = EtcdServer(directory / "data", _free_port(), _free_port(), directory / "etcd.log")
    server.launch()
    return server


def running_etcd(directory: Path) -> Iterator[EtcdServer]:
    """A started etcd under ``directory``, stopped afterwards; skip (or fail, see the module) without etcd."""
    if not available():
        message = f"etcd is not installed ({ETCD})"
        if os.environ.get("BALANCERD_E2E_REQUIRED"):
            pytest.fail(message + " and BALANCERD_E2E_REQUIRED is set")
        pytest.skip(message)
    server = start(directory)
    try:
        yield server
    finally:
        server.stop()


def key_prefix(name: str) -> str:
    """A prefix of its own for the test called ``name`` (a module's tests share one etcd)."""
    return "/t/" + re.sub(r"[^A-Za-z0-9_.-]+", "_", name) + "/"
