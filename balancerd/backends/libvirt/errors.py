"""Which of balancerd's errors a libvirt error becomes: transient (retry later) or permanent.

Called by ``backends.libvirt.cluster`` for every ``libvirtError`` it catches (with the error's code, domain and
message); kept free of the ``libvirt`` import so the table is plain data. The numbers are libvirt's stable
``virErrorNumber`` / ``virErrorDomain`` values (the unit tests check them against the bindings).
"""

from __future__ import annotations

from balancerd.backends.libvirt.parse import is_abort_message
from balancerd.errors import (
    BackendError,
    MigrationAbortedError,
    PermanentBackendError,
    TransientBackendError,
)

# virErrorNumber
NO_SUPPORT = 3
NO_CONNECT = 5
INVALID_CONN = 6
INVALID_ARG = 8
OPERATION_DENIED = 29
SYSTEM_ERROR = 38
RPC = 39
NO_DOMAIN = 42
AUTH_FAILED = 45
OPERATION_INVALID = 55
CONFIG_UNSUPPORTED = 67
OPERATION_TIMEOUT = 68
OPERATION_ABORTED = 78
NO_DOMAIN_METADATA = 80
MIGRATE_UNSAFE = 81
OPERATION_UNSUPPORTED = 84
AGENT_UNRESPONSIVE = 86
CPU_INCOMPATIBLE = 91
AUTH_UNAVAILABLE = 94
# virErrorDomain
FROM_RPC = 7
FROM_REMOTE = 13

PERMANENT_CODES = frozenset({
    NO_DOMAIN, INVALID_ARG, OPERATION_INVALID, MIGRATE_UNSAFE, CPU_INCOMPATIBLE, NO_SUPPORT, OPERATION_DENIED,
    NO_DOMAIN_METADATA, OPERATION_UNSUPPORTED, CONFIG_UNSUPPORTED, AUTH_FAILED,
})
TRANSIENT_CODES = frozenset({
    OPERATION_TIMEOUT, NO_CONNECT, SYSTEM_ERROR, RPC, INVALID_CONN, AGENT_UNRESPONSIVE, AUTH_UNAVAILABLE,
})
CONNECTION_CODES = frozenset({NO_CONNECT, SYSTEM_ERROR, RPC, INVALID_CONN})
TRANSIENT_DOMAINS = frozenset({FROM_RPC, FROM_REMOTE})


def error_class(code: int | None, domain: int | None, message: str) -> type[BackendError]:
    """Aborted jobs, then explicit permanent codes, then connection/timeout codes; the rest is permanent."""
    if code == OPERATION_ABORTED or is_abort_message(message):
        return MigrationAbortedError
    if code in PERMANENT_CODES:
        return PermanentBackendError
    if code in TRANSIENT_CODES or domain in TRANSIENT_DOMAINS:
        return TransientBackendError
    return PermanentBackendError


def is_connection_error(code: int | None, domain: int | None) -> bool:
    """True when the error means the connection itself is gone (drop it and re-open)."""
    return code in CONNECTION_CODES or domain in TRANSIENT_DOMAINS
