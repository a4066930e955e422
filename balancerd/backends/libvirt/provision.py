"""New guests on a libvirt host: a disk uploaded into a storage pool through a libvirt stream, a domain defined
and started, and both removed again when an import fails (issue 22).

Called by ``backends.libvirt.cluster`` (``upload_volume``, ``delete_volume``, ``define_domain``,
``start_domain``), which ``balancerd import`` (:mod:`balancerd.importing.run`) calls. The upload goes through
libvirt (storage volume create + upload stream), so the host may be remote: no path on it is written
directly (lab notes: ``pool.createXML`` + ``vol.upload`` measured for cold moves). No libvirt import: the
calls come in through ``call`` (ARCHITECTURE.md rule 3).
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Callable
from pathlib import Path
from typing import Any, BinaryIO, TypeVar

from balancerd.errors import PermanentBackendError

_T = TypeVar("_T")
Call = Callable[[str, str, Callable[[], _T]], _T]
CHUNK = 1 << 20


def upload(call: Call[Any], host: str, conn: Any, pool_name: str, name: str, source: Path, fmt: str,
           capacity: int, progress: Callable[[int], None] | None) -> str:
    """Create volume ``name`` (``fmt``, ``capacity`` bytes) in ``pool_name`` and stream ``source`` into it; its
    path. Refused when the pool already holds a volume of that name (nothing is overwritten)."""
    where = f"host {host}: pool {pool_name}"
    pool = call(host, where, lambda: conn.storagePoolLookupByName(pool_name))
    call(host, where, lambda: pool.refresh(0))
    if name in call(host, where, pool.listVolumes):
        raise PermanentBackendError(f"{where} already holds a volume {name!r}: import under another --name, "
                                    f"or remove it with `virsh vol-delete {name} --pool {pool_name}`")
    vol = call(host, f"{where}: create {name}", lambda: pool.createXML(_volume_xml(name, fmt, capacity), 0))
    try:
        _send(call, host, conn, vol, source, progress, f"{where}: upload {name}")
    except Exception:
        call(host, f"{where}: remove {name}", lambda: vol.delete(0))
        raise
    return str(call(host, where, vol.path))


def _send(call: Call[Any], host: str, conn: Any, vol: Any, source: Path,
          progress: Callable[[int], None] | None, where: str) -> None:
    length = source.stat().st_size
    stream = call(host, where, lambda: conn.newStream(0))
    with source.open("rb") as file:
        try:
            call(host, where, lambda: vol.upload(stream, 0, length, 0))
            call(host, where, lambda: stream.sendAll(_reader(progress), file))
            call(host, where, stream.finish)
        except Exception:
            call(host, f"{where}: abort", stream.abort)
            raise


def _reader(progress: Callable[[int], None] | None) -> Callable[[Any, int, BinaryIO], bytes]:
    def read(_stream: Any, nbytes: int, file: BinaryIO) -> bytes:
        data = file.read(min(nbytes, CHUNK))
        if progress is not None:
            progress(len(data))
        return data

    return read


def _volume_xml(name: str, fmt: str, capacity: int) -> str:
    root = ET.Element("volume")
    ET.SubElement(root, "name").text = name
    ET.SubElement(root, "capacity", unit="bytes").text = str(capacity)
    ET.SubElement(root, "allocation", unit="bytes").text = "0"
    ET.SubElement(ET.SubElement(root, "target"), "format", type=fmt)
    return ET.tostring(root, encoding="unicode")


def delete(call: Call[Any], host: str, conn: Any, pool_name: str, name: str) -> None:
    """Remove volume ``name`` of ``pool_name`` (none there: nothing to do)."""
    where = f"host {host}: pool {pool_name}"
    pool = call(host, where, lambda: conn.storagePoolLookupByName(pool_name))
    call(host, where, lambda: pool.refresh(0))
    if name in call(host, where, pool.listVolumes):
        vol = call(host, where, lambda: pool.storageVolLookupByName(name))
        call(host, f"{where}: remove {name}", lambda: vol.delete(0))


def define(call: Call[Any], host: str, conn: Any, xml: str) -> str:
    """Define the persistent domain ``xml`` (its NICs on bridges made ``type='bridge'``); its name. Refused
    when ``host`` already has a domain of that name."""
    name = ET.fromstring(xml).findtext("name") or ""
    existing = {d.name() for d in call(host, f"host {host}: domains", lambda: conn.listAllDomains(0))}
    if name in existing:
        raise PermanentBackendError(f"host {host} already has a domain {name!r}: import under another --name")
    networks = {n.name() for n in call(host, f"host {host}: networks", lambda: conn.listAllNetworks(0))}
    call(host, f"host {host}: define {name}", lambda: conn.defineXML(bridged(xml, networks)))
    return name


def bridged(xml: str, networks: set[str]) -> str:
    """``xml`` with every ``<interface type='network'>`` whose network ``networks`` lacks turned into a bridge
    interface of that name (the ``[[network_map]]`` target names a bridge)."""
    root = ET.fromstring(xml)
    for nic in root.iter("interface"):
        source = nic.find("source")
        if nic.get("type") == "network" and source is not None and source.get("network") not in networks:
            nic.set("type", "bridge")
            source.set("bridge", source.attrib.pop("network", ""))
    return ET.tostring(root, encoding="unicode")


def start(call: Call[Any], host: str, conn: Any, vm: str) -> None:
    """Start the defined domain ``vm``."""
    dom = call(host, f"host {host}: VM {vm}", lambda: conn.lookupByName(vm))
    call(host, f"host {host}: start {vm}", dom.create)
