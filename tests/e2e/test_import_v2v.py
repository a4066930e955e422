"""`balancerd import --converter virt-v2v` on the real lab (issue 22 item 5): Debian's virt-v2v converts a real
guest OS and balancerd places, uploads, defines and starts it.

virt-v2v only converts an OS it can inspect, so the guest is not the lab's busybox one but the minimal Debian 12
that scripts/install-v2v-deps builds once (kernel package, grub on an MBR disk, initramfs-tools; its init prints
the lab's TICK lines on the serial console). The test exports it as a VMware VMX directory (pvscsi disk, vmxnet3
NIC on "VM Network"), imports it with ``--host auto --start``, and checks that virt-v2v ran its conversion
(its stages come through as progress events), that the guest runs once on the chosen host from its own disk on
virtio, keeps its MAC, sits on the mapped network and ticks. libguestfs runs its appliance under TCG on the
kernel install-v2v-deps unpacked (SUPERMIN_KERNEL): KVM here is unusable for QEMU (lab notes).

Uses the session ``lab``; the imported domain and its volume are removed at the end.
"""

from __future__ import annotations

import json
import os
import subprocess
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from balancerd.lab import connect, paths

from .conftest import TICK_TIMEOUT_S
from .libvirt_lab import BIN, ticks, wait_until
from .test_import_lab import _check_running, _remove, vmx_text

pytestmark = pytest.mark.e2e

V2V_TIMEOUT_S = 900.0
"""virt-v2v measured here: 87 s for the 1.2 GB guest (21 s appliance boot, 10 s inspection, 53 s conversion
under TCG, 1 s copy); the collection, the VMDK upload and a loaded machine on top."""
MAC = "00:50:56:3f:00:22"


def _guest_image() -> Path:
    """The Debian guest install-v2v-deps built for the lab's kernel, or skip / fail saying how to build it."""
    cache = paths.cache_dir()
    kernel = (cache / "kernel" / "current").resolve().name
    built = sorted(p.parent for p in (cache / "v2v").glob(f"{kernel}-*/.complete"))
    if built and (built[-1] / "guest.qcow2").is_file():
        return built[-1] / "guest.qcow2"
    reason = f"no virt-v2v test guest in {cache / 'v2v'} (run scripts/install-v2v-deps as root)"
    if os.environ.get("BALANCERD_E2E_REQUIRED"):
        pytest.fail(reason, pytrace=False)
    pytest.skip(reason)


def _libguestfs_env() -> dict[str, str]:
    """libguestfs on this machine: the direct backend, TCG, the kernel install-v2v-deps unpacked."""
    kernel = (paths.cache_dir() / "kernel" / "current").resolve().name
    appliance = paths.cache_dir() / "v2v" / "appliance-kernel" / kernel
    return {**os.environ, "LIBGUESTFS_BACKEND": "direct", "LIBGUESTFS_BACKEND_SETTINGS": "force_tcg",
            "SUPERMIN_KERNEL": str(appliance / "vmlinuz"), "SUPERMIN_MODULES": f"/lib/modules/{kernel}"}


def _wait_ticks(console: Path) -> None:
    """The guest's first TICK; on a timeout the end of its console says how far it booted."""
    try:
        wait_until(lambda: console.exists() and bool(ticks(console)), TICK_TIMEOUT_S, "the converted guest to tick")
    except AssertionError as exc:
        tail = console.read_text(errors="replace")[-3000:] if console.exists() else "(no console file)"
        raise AssertionError(f"{exc}; its console ends:\n{tail}") from exc


@pytest.fixture(scope="module")
def v2v_setup(lab: dict[str, Any], tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    image = _guest_image()
    layout = paths.LabLayout(Path(lab["dir"]))
    work = tmp_path_factory.mktemp("v2v")
    folder = work / "export"
    folder.mkdir()
    subprocess.run(["qemu-img", "convert", "-f", "qcow2", "-O", "vmdk", "-o", "subformat=monolithicSparse",
                    str(image), str(folder / "v2v-debian.vmdk")], capture_output=True, check=True, timeout=300)
    (folder / "v2v-debian.vmx").write_text(vmx_text("v2v-debian", MAC, memsize_mib=256, guest_os="debian12-64"))
    config = work / "balancerd.toml"
    config.write_text(layout.config_file.read_text() + '\n[[network_map]]\nsource = "VM Network"\ndest = "prod"\n'
                      'source_kind = "vmware"\n')
    made: list[str] = []
    yield {"lab": lab, "layout": layout, "vmx": folder / "v2v-debian.vmx", "config": config, "made": made}
    _remove(lab, made)


def test_virt_v2v_converts_a_real_guest_that_then_boots_on_the_chosen_host(v2v_setup: dict[str, Any]) -> None:
    name = "v2v-debian"
    v2v_setup["made"].append(name)
    proc = subprocess.run([str(BIN / "balancerd"), "import", str(v2v_setup["vmx"]), "--config",
                           str(v2v_setup["config"]), "--host", "auto", "--converter", "virt-v2v", "--start",
                           "--json"], capture_output=True, text=True, timeout=V2V_TIMEOUT_S,
                          stdin=subprocess.DEVNULL, check=False, env=_libguestfs_env())
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-4000:]
    events = [json.loads(line) for line in proc.stdout.splitlines() if line.startswith("{")]
    stages = [e["stage"] for e in events if e["event"] == "stage"]
    assert any(s.startswith("Converting") and "to run on KVM" in s for s in stages), stages
    assert {"convert", "upload"} <= {e.get("step") for e in events if e["event"] == "progress"}
    done = events[-1]
    assert done["event"] == "imported" and done["started"], events[-5:]
    _wait_ticks(v2v_setup["layout"].console(name))
    _check_running(v2v_setup, name, done["host"])
    uri = next(h["uri"] for h in v2v_setup["lab"]["hosts"] if h["name"] == done["host"])
    with connect.connection(uri) as conn:
        root = ET.fromstring(conn.lookupByName(name).XMLDesc(0))
    assert [t.get("bus") for t in root.iterfind("devices/disk[@device='disk']/target")] == ["scsi"]
    assert [c.get("model") for c in root.iterfind("devices/controller[@type='scsi']")] == ["virtio-scsi"]
    assert [(m.get("address"), t.get("type")) for m, t in zip(root.iterfind("devices/interface/mac"),
                                                             root.iterfind("devices/interface/model"),
                                                             strict=True)] == [(MAC, "virtio")]
