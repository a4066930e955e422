"""systemd/balancerd.service: `systemd-analyze verify` is clean, the notify/watchdog/reload/hardening settings.

systemd-analyze comes with Debian's systemd package (scripts/test installs it when missing). ExecStart is
pointed at this venv's `balancerd` in a temporary copy, since /opt/balancerd is not installed here.
"""

from __future__ import annotations

import configparser
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

UNIT = Path(__file__).resolve().parents[3] / "systemd" / "balancerd.service"
ANALYZE = shutil.which("systemd-analyze")


@pytest.fixture
def analyze() -> str:
    if ANALYZE is None:
        if os.environ.get("BALANCERD_E2E_REQUIRED") == "1":
            pytest.fail("systemd-analyze is missing: scripts/test installs the systemd package")
        pytest.skip("systemd-analyze is not installed")
    return ANALYZE


def _service() -> configparser.SectionProxy:
    parser = configparser.ConfigParser(strict=False, interpolation=None)
    parser.optionxform = str  # type: ignore[assignment,method-assign]
    parser.read_string(UNIT.read_text())
    return parser["Service"]


def _local_copy(tmp_path: Path) -> Path:
    binary = Path(sys.executable).parent / "balancerd"
    assert binary.exists(), binary
    text = UNIT.read_text().replace("/opt/balancerd/.venv/bin/balancerd", str(binary))
    copy = tmp_path / "balancerd.service"
    copy.write_text(text)
    return copy


def test_verify_is_clean(analyze: str, tmp_path: Path) -> None:
    proc = subprocess.run([analyze, "verify", str(_local_copy(tmp_path))], capture_output=True, text=True,
                          timeout=60, cwd=tmp_path, stdin=subprocess.DEVNULL)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "" and proc.stderr.strip() == "", proc.stdout + proc.stderr


def test_verify_would_catch_a_typo(analyze: str, tmp_path: Path) -> None:
    copy = _local_copy(tmp_path)
    copy.write_text(copy.read_text().replace("WatchdogSec=", "WatchdogSecs="))
    proc = subprocess.run([analyze, "verify", str(copy)], capture_output=True, text=True, timeout=60,
                          cwd=tmp_path, stdin=subprocess.DEVNULL)
    assert "Unknown key 'WatchdogSecs'" in proc.stderr


def test_hardening_exposure_is_low(analyze: str, tmp_path: Path) -> None:
    proc = subprocess.run([analyze, "security", "--offline=true", "--no-pager", str(_local_copy(tmp_path))],
                          capture_output=True, text=True, timeout=60, cwd=tmp_path, stdin=subprocess.DEVNULL)
    found = re.search(r"Overall exposure level for \S+: (\d+\.\d+)", proc.stdout + proc.stderr)
    assert found, proc.stdout + proc.stderr
    assert float(found.group(1)) <= 3.0


def test_notify_watchdog_reload_and_restart() -> None:
    service = _service()
    assert service["Type"] == "notify"
    assert service["NotifyAccess"] == "main"
    assert service["WatchdogSec"]
    assert service["ExecReload"] == "/bin/kill -HUP $MAINPID"
    assert service["Restart"] == "on-failure"
    assert service["RestartPreventExitStatus"] == "78"
    assert "--config /etc/balancerd/balancerd.toml" in service["ExecStart"]


def test_hardening_leaves_state_and_runtime_writable() -> None:
    service = _service()
    assert service["ProtectSystem"] == "strict"
    assert service["NoNewPrivileges"] == "yes"
    assert set(service["ReadWritePaths"].split()) == {"/var/lib/balancerd", "/run/balancerd"}
    assert service["StateDirectory"] == service["RuntimeDirectory"] == "balancerd"
    assert {"AF_UNIX", "AF_INET", "AF_INET6"} <= set(service["RestrictAddressFamilies"].split())
