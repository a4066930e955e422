"""The TLS listener: a bearer token for every route, the token holder as caller; unusable TLS or token files."""

from __future__ import annotations

import ssl
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import trustme

from balancerd.api.errors import ApiError
from balancerd.api.protocol import Caller
from balancerd.api.server import ApiServer
from balancerd.api.tcp import bind
from balancerd.errors import ConfigError
from tests.unit.api.fakes import STATUS, FakeControl, control_config, serving

TOKEN = "s3cret-token"


@pytest.fixture
def tls(tmp_path: Path) -> tuple[str, str, ssl.SSLContext]:
    """A certificate for 127.0.0.1 from a throw-away CA: cert file, key file, a client context trusting it."""
    ca = trustme.CA()
    issued = ca.issue_cert("127.0.0.1")
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    issued.cert_chain_pems[0].write_to_path(str(cert))
    issued.private_key_pem.write_to_path(str(key))
    client = ssl.create_default_context()
    ca.configure_trust(client)
    return str(cert), str(key), client


@pytest.fixture
def tcp_api(tmp_path: Path, tls: tuple[str, str, ssl.SSLContext]) -> Iterator[tuple[str, ssl.SSLContext, FakeControl]]:
    cert, key, client = tls
    (tmp_path / "token").write_text(TOKEN + "\n")
    config = control_config(tmp_path / "c.sock", tcp_address="127.0.0.1", tcp_port=0, tls_cert=cert, tls_key=key,
                            token_file=str(tmp_path / "token"))
    with serving(config) as (server, control):
        assert server.tcp_address is not None
        host, port = server.tcp_address
        yield f"https://{host}:{port}", client, control


def _get(base: str, client: ssl.SSLContext, path: str, token: str | None) -> httpx.Response:
    headers = {"Authorization": f"Bearer {token}"} if token is not None else {}
    return httpx.get(base + path, headers=headers, verify=client, timeout=10)


@pytest.mark.parametrize("path", ["/v1/status", "/v1/plan", "/openapi.json", "/v1/nothing"])
def test_every_route_needs_the_token(tcp_api: tuple[str, ssl.SSLContext, FakeControl], path: str) -> None:
    base, client, control = tcp_api
    missing = _get(base, client, path, None)
    assert missing.status_code == 401 and missing.json() == {
        "error": "missing bearer token: send 'Authorization: Bearer TOKEN'"}
    assert missing.headers["WWW-Authenticate"].startswith("Bearer")
    wrong = _get(base, client, path, "s3cret-tokeN")
    assert (wrong.status_code, wrong.json()) == (401, {"error": "wrong bearer token"})
    basic = httpx.get(base + path, auth=("admin", TOKEN), verify=client, timeout=10)
    assert basic.status_code == 401
    assert control.calls == []


def test_the_right_token_is_served(tcp_api: tuple[str, ssl.SSLContext, FakeControl]) -> None:
    base, client, control = tcp_api
    answer = _get(base, client, "/v1/status", TOKEN)
    assert (answer.status_code, answer.json()) == (200, STATUS)
    assert _get(base, client, "/openapi.json", TOKEN).json()["openapi"] == "3.1.0"
    paused = httpx.post(base + "/v1/pause", json={"abort_running": False}, verify=client, timeout=10,
                        headers={"Authorization": f"Bearer {TOKEN}"})
    assert paused.status_code == 200
    assert control.calls[-1] == ("pause", (False, Caller(uid=None, via="tcp")))


def test_plain_http_gets_no_answer(tcp_api: tuple[str, ssl.SSLContext, FakeControl]) -> None:
    base, _client, control = tcp_api
    with pytest.raises(httpx.HTTPError):
        httpx.get(base.replace("https", "http") + "/v1/status", headers={"Authorization": f"Bearer {TOKEN}"},
                  timeout=10)
    assert control.calls == []


def _tcp_config(tmp_path: Path, cert: str, key: str, token_file: Path) -> ApiServer:
    config = control_config(tmp_path / "c.sock", tcp_address="127.0.0.1", tcp_port=0, tls_cert=cert, tls_key=key,
                            token_file=str(token_file))
    return ApiServer(FakeControl(), config)


def test_an_empty_token_file_is_a_config_error(tmp_path: Path, tls: tuple[str, str, ssl.SSLContext]) -> None:
    (tmp_path / "token").write_text("  \n")
    with pytest.raises(ConfigError, match=r"control\.token_file.*empty"):
        _tcp_config(tmp_path, tls[0], tls[1], tmp_path / "token").start()
    assert not (tmp_path / "c.sock").exists()


def test_a_missing_token_file_is_a_config_error(tmp_path: Path, tls: tuple[str, str, ssl.SSLContext]) -> None:
    with pytest.raises(ConfigError, match=r"control\.token_file.*readable file"):
        _tcp_config(tmp_path, tls[0], tls[1], tmp_path / "absent").start()


def test_a_missing_certificate_or_a_wrong_key_is_a_config_error(tmp_path: Path,
                                                               tls: tuple[str, str, ssl.SSLContext]) -> None:
    (tmp_path / "token").write_text(TOKEN)
    with pytest.raises(ConfigError, match=r"control\.tls_cert.*readable PEM file"):
        _tcp_config(tmp_path, str(tmp_path / "absent.pem"), tls[1], tmp_path / "token").start()
    other = trustme.CA().issue_cert("127.0.0.1")
    other.private_key_pem.write_to_path(str(tmp_path / "other-key.pem"))
    with pytest.raises(ConfigError, match=r"control\.tls_cert.*its private key"):
        _tcp_config(tmp_path, tls[0], str(tmp_path / "other-key.pem"), tmp_path / "token").start()
    assert not (tmp_path / "c.sock").exists()


def test_an_address_in_use_is_an_api_error() -> None:
    taken = bind("127.0.0.1", 0)
    try:
        with pytest.raises(ApiError, match=r"control\.tcp_address '127\.0\.0\.1'"):
            bind("127.0.0.1", taken.getsockname()[1])
    finally:
        taken.close()
