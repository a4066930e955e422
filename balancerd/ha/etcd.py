"""etcd v3 as the HA seam: the only importer of ``etcd3gw`` (etcd's HTTP gateway client) and of ``requests``.

:mod:`balancerd.ha.leader` (the lease and the leader key), :mod:`balancerd.ha.shared` (maintenance set, pause)
and :mod:`balancerd.ha.replica` (the journal's cluster-wide records) talk to etcd only through :class:`Etcd`.
One endpoint is asked at a time, the last one that answered first; a member that cannot be reached or times
out is passed over for the next, and when none answers the call raises :class:`~balancerd.errors.CoordinationError`
naming them all. etcd's JSON carries int64 as strings, bytes as base64 and leaves out false and zero fields:
that is all undone here, so callers see ints, bytes and bools.
"""

from __future__ import annotations

import base64
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import requests
from etcd3gw import exceptions as etcd_errors
from etcd3gw.client import Etcd3Client

from balancerd.config import HaConfig
from balancerd.errors import CoordinationError

_UNREACHABLE = (etcd_errors.ConnectionFailedError, etcd_errors.ConnectionTimeoutError, etcd_errors.InternalServerError)
"""Reasons to ask the next member: not reachable, too slow, or it answers 5xx (no leader, shutting down)."""


@dataclass(frozen=True, slots=True)
class KeyValue:
    """One key as etcd holds it."""

    key: str
    value: bytes
    create_revision: int
    mod_revision: int
    lease: int


@dataclass(frozen=True, slots=True)
class TxnResult:
    """Whether a transaction's compares held, the store's revision after it, and what its reads returned."""

    succeeded: bool
    revision: int
    ranges: tuple[tuple[KeyValue, ...], ...]


def b64(data: str | bytes) -> str:
    raw = data.encode() if isinstance(data, str) else data
    return base64.b64encode(raw).decode("ascii")


def compare_created(key: str, revision: int) -> dict[str, Any]:
    """Holds when ``key`` was created at ``revision`` (0: the key does not exist)."""
    return {"key": b64(key), "result": "EQUAL", "target": "CREATE", "create_revision": str(revision)}


def compare_lease(key: str, lease: int) -> dict[str, Any]:
    """Holds when ``key`` is attached to ``lease``."""
    return {"key": b64(key), "result": "EQUAL", "target": "LEASE", "lease": str(lease)}


def compare_modified(key: str, revision: int) -> dict[str, Any]:
    """Holds when ``key`` was last written at ``revision`` (0: the key does not exist)."""
    return {"key": b64(key), "result": "EQUAL", "target": "MOD", "mod_revision": str(revision)}


def put(key: str, value: bytes, lease: int = 0) -> dict[str, Any]:
    body: dict[str, Any] = {"key": b64(key), "value": b64(value)}
    if lease:
        body["lease"] = str(lease)
    return {"request_put": body}


def get(key: str) -> dict[str, Any]:
    return {"request_range": {"key": b64(key)}}


def delete(key: str) -> dict[str, Any]:
    return {"request_delete_range": {"key": b64(key)}}


class Etcd:
    """A client of one etcd cluster over its HTTP gateway, failing over between the configured endpoints."""

    def __init__(self, config: HaConfig) -> None:
        self._clients = tuple(_client(url, config) for url in config.etcd_endpoints)
        self._urls = config.etcd_endpoints
        self._first = 0

    @property
    def endpoints(self) -> tuple[str, ...]:
        return self._urls

    def call(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        """POST ``body`` to ``/v3/<path>`` on the first endpoint that answers; its JSON answer."""
        failures: list[str] = []
        count = len(self._clients)
        for step in range(count):
            index = (self._first + step) % count
            client = self._clients[index]
            try:
                answer: dict[str, Any] = client.post(client.get_url(path), json=body)
            except _UNREACHABLE as exc:  # TLS refusals too: their reason is in the detail
                failures.append(_unreachable(self._urls[index], exc))
                continue
            except etcd_errors.Etcd3Exception as exc:
                raise CoordinationError(f"etcd {self._urls[index]} refused {path}: {_detail(exc)}") from exc
            except (requests.RequestException, ValueError, OSError) as exc:  # OSError: a CA / certificate file
                raise CoordinationError(f"etcd {self._urls[index]}: {path}: {exc}") from exc
            self._first = index
            return answer
        raise CoordinationError("etcd unreachable: " + "; ".join(failures))

    def grant(self, ttl_s: int) -> int:
        """A new lease of ``ttl_s`` seconds; its id."""
        return int(self.call("lease/grant", {"TTL": str(ttl_s)})["ID"])

    def keepalive(self, lease: int) -> int:
        """Refresh ``lease``; the TTL it has again, or -1 when it has expired (or never existed)."""
        result = self.call("lease/keepalive", {"ID": str(lease)}).get("result", {})
        return int(result.get("TTL", -1))

    def revoke(self, lease: int) -> None:
        """End ``lease`` now: the keys attached to it are deleted (a clean step-down)."""
        try:
            self.call("kv/lease/revoke", {"ID": str(lease)})
        except CoordinationError as exc:
            if "not found" not in str(exc).lower():
                raise

    def range(self, key: str, prefix: bool = False) -> tuple[KeyValue, ...]:
        """The key (or every key under the prefix ``key``), in key order."""
        body: dict[str, Any] = {"key": b64(key)}
        if prefix:
            body["range_end"] = b64(_prefix_end(key))
        return tuple(_kv(item) for item in self.call("kv/range", body).get("kvs", ()))

    def scan(self, prefix: str, min_mod_revision: int = 0) -> tuple[tuple[KeyValue, ...], int]:
        """Every key under ``prefix`` written at or after ``min_mod_revision``, and the store's revision now."""
        body: dict[str, Any] = {"key": b64(prefix), "range_end": b64(_prefix_end(prefix))}
        if min_mod_revision:
            body["min_mod_revision"] = str(min_mod_revision)
        answer = self.call("kv/range", body)
        return tuple(_kv(item) for item in answer.get("kvs", ())), int(answer["header"]["revision"])

    def value(self, key: str) -> KeyValue | None:
        found = self.range(key)
        return found[0] if found else None

    def write(self, key: str, value: bytes) -> None:
        self.call("kv/put", {"key": b64(key), "value": b64(value)})

    def remove(self, key: str) -> None:
        self.call("kv/deleterange", {"key": b64(key)})

    def txn(self, compare: Sequence[dict[str, Any]], success: Sequence[dict[str, Any]],
            failure: Sequence[dict[str, Any]] = ()) -> TxnResult:
        """One transaction: ``success`` runs when every compare holds, else ``failure``."""
        answer = self.call("kv/txn", {"compare": list(compare), "success": list(success), "failure": list(failure)})
        ranges = tuple(tuple(_kv(kv) for kv in r["response_range"].get("kvs", ()))
                       for r in answer.get("responses", ()) if "response_range" in r)
        return TxnResult(bool(answer.get("succeeded", False)), int(answer["header"]["revision"]), ranges)


def _client(url: str, config: HaConfig) -> Etcd3Client:
    scheme, _, rest = url.partition("://")
    host, _, port = rest.rstrip("/").rpartition(":")
    session = requests.Session()
    session.trust_env = False  # never an HTTP proxy or a CA bundle from the environment: only what [ha] says
    session.verify = config.ca_file or True
    if config.cert_file:
        session.cert = (config.cert_file, config.key_file)
    return Etcd3Client(host=host.strip("[]"), port=int(port), protocol=scheme, timeout=config.request_timeout_s,
                       api_path="/v3/", session=session)


def _kv(item: dict[str, Any]) -> KeyValue:
    return KeyValue(base64.b64decode(item["key"]).decode(), base64.b64decode(item.get("value", "")),
                    int(item.get("create_revision", 0)), int(item.get("mod_revision", 0)), int(item.get("lease", 0)))


def _prefix_end(prefix: str) -> bytes:
    raw = bytearray(prefix.encode())
    raw[-1] += 1
    return bytes(raw)


def _unreachable(url: str, exc: etcd_errors.Etcd3Exception) -> str:
    """One member's failure in words: its URL, the kind, and the reason (a TLS refusal says which) cut short."""
    detail = _detail(exc)
    return f"{url}: {type(exc).__name__}" + (f" ({detail[:300]})" if detail and detail != type(exc).__name__ else "")


def _detail(exc: etcd_errors.Etcd3Exception) -> str:
    return str(getattr(exc, "detail_text", "") or exc)
