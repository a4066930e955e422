"""The etcd seam over https against a real etcd that requires client certificates (tests/etcdserver.py, tls=True).

Every test starts an etcd of its own, with a throw-away CA, server and client certificate: the right files
make key round trips, leases and the leader campaign work; a missing client certificate or a CA that did not
sign the server's certificate is a CoordinationError that names the endpoint.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from balancerd.config import HaConfig
from balancerd.errors import CoordinationError
from balancerd.ha.etcd import Etcd
from balancerd.ha.leader import Leadership
from tests import etcdserver
from tests.unit.ha.conftest import TIMEOUT_S


@pytest.fixture
def tls_etcd(tmp_path: Path) -> Iterator[etcdserver.EtcdServer]:
    """An etcd of this test only, https with --client-cert-auth; stopped afterwards (skips without etcd)."""
    yield from etcdserver.running_etcd(tmp_path / "etcd", tls=True)


def tls_config(server: etcdserver.EtcdServer, ca_file: Path | None = None, client_cert: bool = True) -> HaConfig:
    """[ha] for ``server``: its CA (or ``ca_file``), and its client certificate unless ``client_cert`` is False."""
    cert, key = (str(server.cert_file), str(server.key_file)) if client_cert else ("", "")
    return HaConfig(etcd_endpoints=(server.url,), request_timeout_s=TIMEOUT_S,
                    ca_file=str(ca_file or server.ca_file), cert_file=cert, key_file=key)


def test_the_server_is_https_and_exposes_the_client_files(tls_etcd: etcdserver.EtcdServer) -> None:
    assert tls_etcd.url == f"https://127.0.0.1:{tls_etcd.client_port}"
    assert tls_etcd.healthy()
    for path in (tls_etcd.ca_file, tls_etcd.cert_file, tls_etcd.key_file):
        assert path.is_file()


def test_with_ca_and_client_certificate_round_trip_and_lease_work(tls_etcd: etcdserver.EtcdServer,
                                                                   prefix: str) -> None:
    client = Etcd(tls_config(tls_etcd))
    assert client.value(prefix + "k") is None
    client.write(prefix + "k", b"\x00over tls\xff")
    found = client.value(prefix + "k")
    assert found is not None
    assert (found.key, found.value, found.lease) == (prefix + "k", b"\x00over tls\xff", 0)
    lease = client.grant(30)
    assert lease > 0
    assert 0 < client.keepalive(lease) <= 30
    client.revoke(lease)
    assert client.keepalive(lease) == -1


def test_without_a_client_certificate_the_call_is_a_coordination_error_naming_the_endpoint(
        tls_etcd: etcdserver.EtcdServer, prefix: str) -> None:
    client = Etcd(tls_config(tls_etcd, client_cert=False))
    with pytest.raises(CoordinationError) as info:
        client.write(prefix + "k", b"x")
    assert str(info.value).startswith(f"etcd unreachable: {tls_etcd.url}: ")
    assert Etcd(tls_config(tls_etcd)).value(prefix + "k") is None  # refused before anything was written


def test_with_a_ca_that_did_not_sign_the_server_the_call_is_a_coordination_error(
        tls_etcd: etcdserver.EtcdServer, prefix: str, tmp_path: Path) -> None:
    other_ca, _ = etcdserver.make_ca(tmp_path / "other", "other")
    client = Etcd(tls_config(tls_etcd, ca_file=other_ca))
    with pytest.raises(CoordinationError) as info:
        client.grant(10)
    assert str(info.value).startswith(f"etcd unreachable: {tls_etcd.url}: ")
    assert "CERTIFICATE_VERIFY_FAILED" in str(info.value)  # the TLS reason, not only "unreachable"
    with pytest.raises(CoordinationError):
        client.write(prefix + "k", b"x")
    assert Etcd(tls_config(tls_etcd)).value(prefix + "k") is None


def test_leadership_over_tls_makes_the_head_leader(tls_etcd: etcdserver.EtcdServer, prefix: str) -> None:
    client = Etcd(tls_config(tls_etcd))
    head = Leadership(client, "a", prefix + "leader", 10)
    head.step()
    role = head.role()
    assert role.leader and role.holder == "a"
    held = client.value(prefix + "leader")
    assert held is not None
    assert (held.value, held.lease, held.create_revision) == (b"a", role.lease, role.term)
    head.stop()
    assert client.value(prefix + "leader") is None  # the lease was revoked over TLS too
