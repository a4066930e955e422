"""scripts/install into a temporary root: venv with the built wheel, unit, config created once and then kept.

To stay fast and offline-friendly, the test creates the target venv itself and lets it see this venv's
dependencies through a .pth file (everything but balancerd, pip and setuptools), so the script only builds and
installs balancerd. It runs the script twice: the second run must keep an edited config and change nothing else.
"""

from __future__ import annotations

import os
import subprocess
import sys
import sysconfig
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
PREFIX = "/opt/balancerd"
_OWN = ("balancerd", "__editable__", "_balancerd", "pip", "setuptools", "pkg_resources", "_distutils_hack",
        "wheel", "distutils-precedence")


def _seed_venv(root: Path) -> Path:
    """The target venv, seeing this venv's third-party packages (so pip finds every dependency installed)."""
    venv = root / PREFIX.lstrip("/") / ".venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=120)
    ours = Path(sysconfig.get_paths()["purelib"])
    deps = root / "deps"
    deps.mkdir()
    for entry in ours.iterdir():
        if not entry.name.startswith(_OWN) and entry.suffix != ".pth":
            (deps / entry.name).symlink_to(entry)
    site = next((venv / "lib").glob("python3*/site-packages"))
    (site / "test-deps.pth").write_text(f"{deps}\n")
    return venv


def _install(root: Path) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run([str(REPO / "scripts" / "install"), "--root", str(root)], capture_output=True, text=True,
                          timeout=300, stdin=subprocess.DEVNULL, env={**os.environ, "PIP_NO_INPUT": "1"})
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return proc


def test_install_then_reinstall_keeps_an_edited_config(tmp_path: Path) -> None:
    root = tmp_path / "root"
    venv = _seed_venv(root)
    first = _install(root)
    config = root / "etc" / "balancerd" / "balancerd.toml"
    assert config.read_text() == (REPO / "config" / "balancerd.toml").read_text()
    assert "created" in first.stdout
    unit = root / "etc" / "systemd" / "system" / "balancerd.service"
    assert f"ExecStart={PREFIX}/.venv/bin/balancerd run --config /etc/balancerd/balancerd.toml" in unit.read_text()
    for directory in ("var/lib/balancerd", "run/balancerd"):
        assert (root / directory).is_dir(), directory
    assert os.readlink(root / "usr" / "local" / "bin" / "balancerctl") == f"{PREFIX}/.venv/bin/balancerctl"
    assert (root / PREFIX.lstrip("/") / "dashboards" / "balancerd.json").exists()

    where = subprocess.run([str(venv / "bin" / "python"), "-c", "import balancerd; print(balancerd.__file__)"],
                           capture_output=True, text=True, timeout=60, check=True, cwd=tmp_path).stdout
    assert where.startswith(str(venv)), f"balancerd must come from the installed wheel, not {where}"
    for cmd in ("balancerd", "balancerctl"):
        help_run = subprocess.run([str(venv / "bin" / cmd), "--help"], capture_output=True, text=True, timeout=60)
        assert help_run.returncode == 0, help_run.stderr

    edited = config.read_text().replace('mode = "recommend"', 'mode = "enforce"')
    config.write_text(edited)
    unit_before = unit.stat().st_mtime_ns
    second = _install(root)
    assert config.read_text() == edited, "an edited config was overwritten"
    assert "kept the existing" in second.stdout
    assert (config.parent / "balancerd.toml.default").read_text() == (REPO / "config" / "balancerd.toml").read_text()
    assert unit.stat().st_mtime_ns == unit_before, "an unchanged unit was rewritten"
