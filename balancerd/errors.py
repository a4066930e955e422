"""The exception tree of balancerd.

Every error balancerd raises on purpose is one of these; foreign exceptions are wrapped at the seam where
they enter (``raise ... from exc``). Retry meaning lives in the type::

    BalancerdError
    ├── ConfigError              invalid configuration: names key, value and what is allowed (exit 78)
    ├── StateError               state files (pid file, maintenance file, journal) unusable
    ├── FileProblemError         a file that cannot be read as its format says: names it, the line, the fix
    │   ├── TraceError               a recorded trace
    │   └── ImportSourceError        a guest export (VMX, OVF / OVA, VHD / VHDX + spec) that cannot be imported
    ├── UnknownHostError         a host name that is not in the cluster
    ├── PlanRefusedError         a plan too old or built on an older snapshot
    ├── CoordinationError        etcd (``[ha]``) unreachable on every endpoint, or it refused a request
    │   └── FencedError              this head no longer holds the lease of the term it planned in: start nothing
    └── BackendError             anything a hypervisor backend reports
        ├── TransientBackendError    may succeed when retried later (timeouts, lost connections)
        └── PermanentBackendError    will not succeed by retrying (no such domain, incompatible CPU)
            └── MigrationAbortedError   a migration was aborted (deadline, operator); the VM stayed put
"""

from __future__ import annotations


class BalancerdError(Exception):
    """Root of every error balancerd raises on purpose."""


class ConfigError(BalancerdError):
    """The configuration is invalid; the message names the key, the value and what is allowed."""

    exit_code = 78  # EX_CONFIG from sysexits.h

    def __init__(self, key: str, value: object, allowed: str) -> None:
        self.key = key
        self.value = value
        self.allowed = allowed
        super().__init__(f"config key {key!r}: got {value!r}; {allowed}")


class StateError(BalancerdError):
    """A state file cannot be read or written."""


class FileProblemError(BalancerdError):
    """A file that cannot be read as its format says: names the file (and line), the problem and the fix."""

    def __init__(self, path: object, problem: str, fix: str, line: int | None = None) -> None:
        self.path = str(path)
        self.line = line
        self.problem = problem
        self.fix = fix
        where = self.path if line is None else f"{self.path} line {line}"
        super().__init__(f"{where}: {problem}; {fix}")


class TraceError(FileProblemError):
    """A recorded trace (file or folder) that cannot be read as its format says."""


class UnknownHostError(BalancerdError):
    """A host name that the cluster does not have."""

    def __init__(self, name: str, known: tuple[str, ...]) -> None:
        self.name = name
        self.known = known
        super().__init__(f"unknown host {name!r}; known hosts: {', '.join(known) or '(none)'}")


class PlanRefusedError(BalancerdError):
    """A plan may not be executed any more (too old, or a newer snapshot exists)."""


class CoordinationError(BalancerdError):
    """etcd cannot be reached on any endpoint, or refused what was asked; the message names the endpoints."""


class FencedError(CoordinationError):
    """This head is not (or no longer) the leader of the term it planned in; the move must not start."""


class ImportSourceError(FileProblemError):
    """A guest export that cannot be read or imported (VMX, OVF / OVA, VHD / VHDX and its spec, a disk file)."""


class BackendError(BalancerdError):
    """Anything a hypervisor backend reports."""


class TransientBackendError(BackendError):
    """The operation may succeed when retried later."""


class PermanentBackendError(BackendError):
    """The operation will not succeed by retrying."""


class MigrationAbortedError(PermanentBackendError):
    """A migration was aborted; the VM keeps running on its source."""
