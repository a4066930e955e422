"""Unit tests of the generated balancerd.toml: it must validate with balancerd.config."""

from __future__ import annotations

import tomllib
from pathlib import Path

from balancerd import config
from balancerd.lab import labconfig, paths


def _load(root: Path, hosts: int) -> config.Config:
    text = labconfig.balancerd_toml(paths.LabLayout(root), hosts)
    return config.from_table(tomllib.loads(text), base=root)


def test_config_validates_with_one_host_entry_per_lab_host() -> None:
    loaded = _load(Path("/var/lib/balancerd-lab"), 3)
    assert loaded.backend == "libvirt" and loaded.mode == "enforce" and loaded.interval_s == 5
    assert [h.name for h in loaded.hosts] == ["host1", "host2", "host3"]
    host2 = loaded.hosts[1]
    assert host2.uri == "qemu+unix:///system?socket=/var/lib/balancerd-lab/host2/run/libvirt-sock"
    assert host2.migration_uri == "tcp://10.77.1.2"
    assert (host2.cpu_m, host2.mem_mib) == (labconfig.HOST_CPU_M, labconfig.HOST_MEM_MIB)


def test_state_paths_live_in_the_lab_dir_and_unsafe_is_allowed() -> None:
    loaded = _load(Path("/tmp/lab x"), 1)
    for path in (loaded.paths.maintenance_file, loaded.paths.journal, loaded.paths.pid_file,
                 loaded.paths.status_file):
        assert path.is_relative_to(Path("/tmp/lab x"))
    assert loaded.throttle.allow_unsafe
    assert not loaded.metrics.enabled


def test_paths_with_quotes_survive_toml_escaping() -> None:
    loaded = _load(Path('/tmp/we"ird\\dir'), 1)
    assert str(loaded.paths.journal).startswith('/tmp/we"ird\\dir/')
