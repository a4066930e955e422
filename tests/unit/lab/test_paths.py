"""Unit tests of the lab layout, names and addresses."""

from __future__ import annotations

from pathlib import Path

import pytest

from balancerd.lab import paths


def test_dir_from_argument_then_env_then_default(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(paths.ENV_DIR, raising=False)
    assert paths.lab_dir(None) == paths.DEFAULT_DIR
    monkeypatch.setenv(paths.ENV_DIR, "/srv/lab")
    assert paths.lab_dir(None) == Path("/srv/lab")
    assert paths.lab_dir("/other") == Path("/other")


def test_host_layout_and_uris() -> None:
    host = paths.LabLayout(Path("/lab")).host(3)
    assert host.name == "host3"
    assert host.uri == "qemu+unix:///system?socket=/lab/host3/run/libvirt-sock"
    assert host.capabilities_dir == Path("/lab/host3/cache/qemu/capabilities")
    assert paths.p2p_uri(3) == "qemu+tcp://10.77.0.3/system"
    assert paths.migration_uri(3) == "tcp://10.77.1.3"


def test_namespace_names() -> None:
    assert paths.netns_names("bdlab", 2) == ("bdlab-sw", ("bdlab-host1", "bdlab-host2"))


def test_host_uuids_are_distinct_and_well_formed() -> None:
    uuids = {paths.host_uuid(i) for i in range(1, paths.MAX_HOSTS + 1)}
    assert len(uuids) == paths.MAX_HOSTS
    assert all(len(u) == 36 and u.count("-") == 4 for u in uuids)
