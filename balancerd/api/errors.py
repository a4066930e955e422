"""Errors of the control API's own machinery, beside the :class:`~balancerd.api.protocol.ControlError` family.

:class:`ApiError` is raised by :mod:`balancerd.api.server` (and the modules it uses) when the API cannot be
served: a socket another process answers on, a path that is not a socket, a listener that cannot bind. The
errors of a bad ``[control]`` setting (unknown group, unreadable certificate or token) are
:class:`~balancerd.errors.ConfigError` naming the key. :class:`ApiClientError` and its children are raised by
:mod:`balancerd.api.client` for ``balancerctl``, which tells "no daemon listening" (fall back, exit 3) from
an answer the daemon refused (its status and reason).
"""

from __future__ import annotations

from balancerd.errors import BalancerdError


class ApiError(BalancerdError):
    """The control API cannot be served (socket in use, listener cannot bind)."""


class RequestError(BalancerdError):
    """A malformed request: answered with ``status`` and the message, never passed to the daemon."""

    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.message = message
        self.status = status


class ApiClientError(BalancerdError):
    """``balancerctl`` could not get an answer from the control API."""


class NotListeningError(ApiClientError):
    """Nothing listens on the control socket (missing, or connection refused): no daemon is running."""


class RefusedError(ApiClientError):
    """The daemon answered with an error: ``status`` (HTTP) and its ``reason``."""

    def __init__(self, status: int, reason: str) -> None:
        super().__init__(f"the daemon refused ({status}): {reason}")
        self.status = status
        self.reason = reason
