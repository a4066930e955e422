"""config.addresses: addresses are judged when the config loads (IP literals strictly, names by form)."""

from __future__ import annotations

import socket
import subprocess
import sys
from pathlib import Path

import pytest

from balancerd import config
from balancerd.config.addresses import is_address
from balancerd.errors import ConfigError
from balancerd.observability.metrics import Metrics


@pytest.mark.parametrize("text", ["127.0.0.1", "0.0.0.0", "::", "::1", "fe80::1", "localhost", "kvm01",
                                  "metrics.example.org", "kvm01.lab."])
def test_addresses(text: str) -> None:
    assert is_address(text)


@pytest.mark.parametrize("text", ["999.1.1.1", "1.2.3", "10.0.0.256", "", "-bad", "a..b", "x" * 64, "two words",
                                  "http://127.0.0.1"])
def test_not_addresses(text: str) -> None:
    assert not is_address(text)


def test_a_bad_metrics_address_is_refused_at_load() -> None:
    with pytest.raises(ConfigError) as info:
        config.from_table({"metrics": {"address": "999.1.1.1"}}, Path("/etc/balancerd"))
    assert info.value.key == "metrics.address" and "IP address" in str(info.value)


def test_a_uri_with_a_bad_host_is_refused_at_load() -> None:
    table = {"hosts": [{"name": "a", "uri": "qemu+tcp://kvm01/system", "migration_uri": "tcp://10.1.0.300"}]}
    with pytest.raises(ConfigError) as info:
        config.from_table(table, Path("/etc/balancerd"))
    assert info.value.key == "hosts[0].migration_uri"


def test_uris_without_a_host_pass() -> None:
    table = {"hosts": [{"name": "a", "uri": "qemu:///system", "p2p_uri": "qemu+tcp://[fd00::1]/system"}]}
    assert config.from_table(table, Path("/etc/balancerd")).hosts[0].uri == "qemu:///system"


def test_run_with_a_bad_metrics_address_exits_78(tmp_path: Path) -> None:
    path = tmp_path / "bad.toml"
    path.write_text('[metrics]\naddress = "999.1.1.1"\n')
    proc = subprocess.run([sys.executable, "-m", "balancerd.cli", "run", "--config", str(path)],
                          capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL)
    assert proc.returncode == 78, proc.stderr
    assert "'metrics.address'" in proc.stderr and proc.stderr.count("\n") == 1


def test_a_port_in_use_is_a_config_error_not_a_traceback() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        with pytest.raises(ConfigError) as info:
            Metrics().serve("127.0.0.1", port)
    assert info.value.key == "metrics.address" and f"127.0.0.1:{port}" in str(info.value)
