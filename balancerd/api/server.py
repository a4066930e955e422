"""The control API's server: :class:`ApiServer` serves it in its own thread with its own asyncio loop.

Created and started by the daemon (``ApiServer(control, config.control).start()``) and stopped when it
stops. ``start()`` returns once the Unix socket (:mod:`balancerd.api.socketfile`) and, when
``[control] tcp_address`` is set, the TLS listener (:mod:`balancerd.api.tcp`) accept connections; it raises
:class:`~balancerd.api.errors.ApiError` or :class:`~balancerd.errors.ConfigError` when they cannot.
``stop()`` closes both and removes the socket file. Requests are served by :mod:`balancerd.api.app`; the
daemon's :class:`~balancerd.api.protocol.Control` is called in a small thread pool (the loop's default
executor), so a slow call never blocks the loop.
"""

from __future__ import annotations

import asyncio
import socket
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import structlog
from aiohttp import web

from balancerd.api import app as app_mod
from balancerd.api import socketfile, tcp
from balancerd.api.auth import PeerAuth, TokenAuth
from balancerd.api.errors import ApiError
from balancerd.api.protocol import Control
from balancerd.config.schema import ControlConfig

log = structlog.get_logger("balancerd.api")

SHUTDOWN_GRACE_S = 5.0
"""How long ``stop()`` lets requests in progress finish."""


class ApiServer:
    """The control API on the Unix socket (and TCP when configured), from ``start()`` to ``stop()``."""

    def __init__(self, control: Control, config: ControlConfig, workers: int = 4) -> None:
        self._control = control
        self._config = config
        self._workers = workers
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._executor: ThreadPoolExecutor | None = None
        self._runners: list[web.AppRunner] = []
        self._bound: socketfile.Bound | None = None
        self._tcp: tcp.TcpListener | None = None

    @property
    def socket_path(self) -> Path:
        """Where the Unix socket is."""
        return self._config.socket

    @property
    def tcp_address(self) -> tuple[str, int] | None:
        """The TCP listener's address and port while it listens, else None."""
        return self._tcp.address() if self._tcp is not None and self._loop is not None else None

    def start(self, timeout_s: float = 10.0) -> None:
        """Listen; return once connections are accepted. ApiError / ConfigError when that is not possible."""
        if self._loop is not None:
            raise ApiError("the control API is already started")
        gid = socketfile.group_id(self._config.group)
        self._tcp = tcp.open_listener(self._config) if self._config.tcp_address else None
        try:
            self._bound = socketfile.bind(self._config.socket, gid)
            self._start_loop()
            assert self._loop is not None
            future = asyncio.run_coroutine_threadsafe(self._serve(), self._loop)
            self._runners = future.result(timeout_s)
        except BaseException:
            self._shut_down(timeout_s)
            raise
        log.info("api listening", socket=str(self._config.socket), tcp=self._describe_tcp())

    def stop(self, timeout_s: float = 10.0) -> None:
        """Stop accepting, let requests in progress finish (a few seconds), remove the socket file."""
        if self._loop is None:
            return
        self._shut_down(timeout_s)
        log.info("api stopped", socket=str(self._config.socket))

    def _start_loop(self) -> None:
        loop = asyncio.new_event_loop()
        self._executor = ThreadPoolExecutor(self._workers, thread_name_prefix="balancerd-api-call")
        loop.set_default_executor(self._executor)
        self._thread = threading.Thread(target=_run, args=(loop,), name="balancerd-api", daemon=True)
        self._loop = loop
        self._thread.start()

    async def _serve(self) -> list[web.AppRunner]:
        assert self._bound is not None
        runners = [await _site(app_mod.build(self._control, PeerAuth.default()), self._bound.sock, None)]
        if self._tcp is not None:
            runners.append(await _site(app_mod.build(self._control, TokenAuth(self._tcp.token)), self._tcp.sock,
                                       self._tcp))
        return runners

    async def _close(self) -> None:
        for runner in self._runners:
            await runner.cleanup()
        self._runners = []

    def _shut_down(self, timeout_s: float) -> None:
        loop, thread = self._loop, self._thread
        try:
            if loop is not None and thread is not None and thread.is_alive():
                asyncio.run_coroutine_threadsafe(self._close(), loop).result(timeout_s)
        finally:
            self._end_loop(loop, thread, timeout_s)
            self._release()

    def _end_loop(self, loop: asyncio.AbstractEventLoop | None, thread: threading.Thread | None,
                  timeout_s: float) -> None:
        if loop is None or thread is None:
            return
        loop.call_soon_threadsafe(loop.stop)
        thread.join(timeout_s)
        if self._executor is not None:
            self._executor.shutdown(wait=False, cancel_futures=True)
        if not thread.is_alive():
            loop.close()

    def _release(self) -> None:
        if self._bound is not None:
            socketfile.remove(self._bound)
        if self._tcp is not None:
            self._tcp.sock.close()
        self._loop = self._thread = self._executor = None
        self._bound = self._tcp = None

    def _describe_tcp(self) -> str | None:
        address = self.tcp_address
        return None if address is None else f"{address[0]}:{address[1]}"


async def _site(application: web.Application, sock: socket.socket, listener: tcp.TcpListener | None) -> web.AppRunner:
    runner = web.AppRunner(application, access_log=None, handle_signals=False, shutdown_timeout=SHUTDOWN_GRACE_S)
    await runner.setup()
    site = web.SockSite(runner, sock, ssl_context=listener.tls if listener is not None else None)
    await site.start()
    return runner


def _run(loop: asyncio.AbstractEventLoop) -> None:
    asyncio.set_event_loop(loop)
    loop.run_forever()
