from __future__ import annotations

from typing import Any

import libvirt
import pytest

from balancerd.backends.base import MigrationRequest
from balancerd.backends.libvirt import moves as moves
from balancerd.model import MoveKind

CONSTANTS = {
    "MIGRATE_LIVE": "VIR_MIGRATE_LIVE", "MIGRATE_PEER2PEER": "VIR_MIGRATE_PEER2PEER",
    "MIGRATE_PERSIST_DEST": "VIR_MIGRATE_PERSIST_DEST", "MIGRATE_UNDEFINE_SOURCE": "VIR_MIGRATE_UNDEFINE_SOURCE",
    "MIGRATE_NON_SHARED_DISK": "VIR_MIGRATE_NON_SHARED_DISK", "MIGRATE_UNSAFE": "VIR_MIGRATE_UNSAFE",
    "MIGRATE_OFFLINE": "VIR_MIGRATE_OFFLINE", "MIGRATE_AUTO_CONVERGE": "VIR_MIGRATE_AUTO_CONVERGE",
    "MIGRATE_POSTCOPY": "VIR_MIGRATE_POSTCOPY", "PARAM_URI": "VIR_MIGRATE_PARAM_URI",
    "PARAM_BANDWIDTH": "VIR_MIGRATE_PARAM_BANDWIDTH", "PARAM_MIGRATE_DISKS": "VIR_MIGRATE_PARAM_MIGRATE_DISKS",
    "PARAM_DEST_XML": "VIR_MIGRATE_PARAM_DEST_XML", "PARAM_PERSIST_XML": "VIR_MIGRATE_PARAM_PERSIST_XML",
    "PARAM_AC_INITIAL": "VIR_MIGRATE_PARAM_AUTO_CONVERGE_INITIAL",
    "PARAM_AC_INCREMENT": "VIR_MIGRATE_PARAM_AUTO_CONVERGE_INCREMENT",
    "XML_INACTIVE": "VIR_DOMAIN_XML_INACTIVE", "XML_MIGRATABLE": "VIR_DOMAIN_XML_MIGRATABLE",
    "BLOCK_COPY_TRANSIENT_JOB": "VIR_DOMAIN_BLOCK_COPY_TRANSIENT_JOB",
    "BLOCK_JOB_ABORT_PIVOT": "VIR_DOMAIN_BLOCK_JOB_ABORT_PIVOT",
    "CPU_COMPARE_INCOMPATIBLE": "VIR_CPU_COMPARE_INCOMPATIBLE",
}


@pytest.mark.parametrize(("ours", "theirs"), sorted(CONSTANTS.items()))
def test_constants_match_the_bindings(ours: str, theirs: str) -> None:
    assert getattr(moves, ours) == getattr(libvirt, theirs)


class Dom:
    def XMLDesc(self, flags: int) -> str:
        inactive = "-inactive" if flags & moves.XML_INACTIVE else ""
        return (f"<domain><name>vm{inactive}</name><devices><interface type='network'>"
                "<source network='site-h1'/></interface></devices></domain>")


def test_flags_and_params_of_a_storage_move_with_everything() -> None:
    request = MigrationRequest("vm", "h1", "h2", MoveKind.STORAGE, bandwidth_mib_s=8, auto_converge=True,
                               postcopy=True, network_map=(("site-h1", "site-h2"),), copy_disks=("vda",))
    flags = moves.flags_for(request, allow_unsafe=True)
    assert flags == (moves.LIVE_FLAGS | moves.MIGRATE_UNSAFE | moves.MIGRATE_NON_SHARED_DISK
                     | moves.MIGRATE_AUTO_CONVERGE | moves.MIGRATE_POSTCOPY)
    params: dict[str, Any] = moves.params_for(request, "tcp://10.77.1.2", Dom())
    assert params[moves.PARAM_MIGRATE_DISKS] == ["vda"] and params[moves.PARAM_BANDWIDTH] == 8
    assert params[moves.PARAM_URI] == "tcp://10.77.1.2"
    assert (params[moves.PARAM_AC_INITIAL], params[moves.PARAM_AC_INCREMENT]) == (20, 10)
    assert "site-h2" in params[moves.PARAM_DEST_XML] and "vm-inactive" in params[moves.PARAM_PERSIST_XML]


def test_plain_live_move_has_no_extras() -> None:
    request = MigrationRequest("vm", "h1", "h2")
    assert moves.flags_for(request, allow_unsafe=False) == moves.LIVE_FLAGS
    assert moves.params_for(request, "", Dom()) == {}
