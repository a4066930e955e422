"""Carrying an import out once every check passed: each disk converted with qemu-img in the work directory (or
the whole guest by virt-v2v, :mod:`balancerd.importing.v2v`, with ``--converter virt-v2v``), uploaded into the
target pool through the backend, the domain defined (and started with ``--start``).

Called by :mod:`balancerd.importing.cli`. The journal gets the import's row before anything changes and each
volume and definition the moment it exists; a failure at any step removes what this import created (the
definition, then the volumes), closes the row as failed and re-raises, so nothing is left half-imported and the
same import can run again. A volume or domain name that already exists is refused by the backend, never
overwritten.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import structlog

from balancerd.backends.base import Hypervisor
from balancerd.clock import Clock
from balancerd.config import ImportsConfig
from balancerd.errors import BalancerdError
from balancerd.importing import domain, qemuimg, v2v
from balancerd.importing.devices import TargetDisk
from balancerd.importing.progress import Progress
from balancerd.importing.reading import Export
from balancerd.importing.target import Target
from balancerd.journal import Journal

log = structlog.get_logger("balancerd.import")


@dataclass(frozen=True, slots=True)
class Imported:
    """What an import created: the domain on ``host`` and its volumes (paths there), started or not."""

    name: str
    host: str
    volumes: tuple[str, ...]
    started: bool


@dataclass(frozen=True, slots=True)
class Seams:
    """The outside world an import touches."""

    backend: Hypervisor
    journal: Journal
    clock: Clock
    progress: Progress


def execute(export: Export, target: Target, name: str, settings: ImportsConfig, work: Path, seams: Seams, *,
            start: bool) -> Imported:
    """Convert, upload, define (and start) ``export`` as ``name`` on ``target.host``; undo all of it on failure."""
    host = target.host or ""
    record = seams.journal.import_started(name, str(export.path), host, seams.clock.now(),
                                          (*export.checks, *target.checks))
    made: list[str] = []
    defined = False
    try:
        ready = _by_v2v(export, target, name, work, seams.progress) if target.converter == v2v.NAME else None
        paths = tuple(_disk(export, target, i, disk, work, seams, record, made, ready[i] if ready else None)
                      for i, disk in enumerate(target.devices.disks))
        xml = domain.render(export.guest, name, target.devices, paths, domain_type=settings.domain_type,
                            disk_format=target.disk_format, serial_log=_serial(settings, name))
        seams.backend.define_domain(host, xml)
        defined = True
        seams.journal.import_created(record, f"domain {name}")
        seams.progress.event("defined", vm=name, host=host)
        if start:
            seams.backend.start_domain(name, host)
            seams.progress.event("started", vm=name, host=host)
    except (BalancerdError, OSError) as exc:
        _undo(seams, target, name, made, defined)
        seams.journal.import_ended(record, "failed", str(exc), seams.clock.now())
        raise
    seams.journal.import_ended(record, "imported", f"{len(paths)} disk(s) on {host}", seams.clock.now())
    log.info("imported", vm=name, host=host, source=str(export.path), started=start)
    return Imported(name, host, paths, start)


def _by_v2v(export: Export, target: Target, name: str, work: Path, progress: Progress) -> tuple[Path, ...]:
    """The whole guest converted by virt-v2v into ``work``: one file per disk, in order."""
    total = sum(d.virtual_size_bytes for d in export.guest.disks)

    def show(line: v2v.Line) -> None:
        if line.stage is not None:
            progress.event("stage", step="convert", converter=v2v.NAME, stage=line.stage)
        if line.copied is not None:
            progress.advance(int(line.copied * total))

    progress.begin("convert", f"{name} ({v2v.NAME})", total)
    try:
        return v2v.convert(export, name, work, target.disk_format, show)
    finally:
        progress.end()


def _disk(export: Export, target: Target, index: int, disk: TargetDisk, work: Path, seams: Seams, record: int,
          made: list[str], ready: Path | None) -> str:
    """Convert one disk into ``work`` (unless virt-v2v did: ``ready``) and upload it; the volume's path."""
    size = export.guest.disks[index].virtual_size_bytes
    converted = ready or work / disk.volume
    try:
        if ready is None:
            _convert(export, target, index, disk, converted, seams.progress)
        path = _upload(target, disk, converted, size, seams)
    finally:
        seams.progress.end()
        converted.unlink(missing_ok=True)
    made.append(disk.volume)
    seams.journal.import_created(record, f"volume {target.pool}/{disk.volume}")
    return path


def _convert(export: Export, target: Target, index: int, disk: TargetDisk, converted: Path,
             progress: Progress) -> None:
    source, fmt = export.files[index], export.formats[index]
    assert source is not None  # the checks passed: every file was read
    size = export.guest.disks[index].virtual_size_bytes
    progress.begin("convert", disk.source_file, size)
    qemuimg.convert(source, fmt, converted, target.disk_format, lambda f: progress.advance(int(f * size)))
    progress.end()  # the convert bar; a failure's bar is ended by the caller


def _upload(target: Target, disk: TargetDisk, converted: Path, size: int, seams: Seams) -> str:
    total, sent = converted.stat().st_size, [0]

    def advance(chunk: int) -> None:
        sent[0] += chunk
        seams.progress.advance(sent[0])

    seams.progress.begin("upload", disk.volume, total)
    path = seams.backend.upload_volume(target.host or "", target.pool, disk.volume, converted, target.disk_format,
                                       size, advance)
    seams.progress.end()
    return path


def _undo(seams: Seams, target: Target, name: str, volumes: list[str], defined: bool) -> None:
    """Remove the definition and the volumes this import created; a step that fails is logged, the rest go on."""
    host = target.host or ""
    if defined:
        _remove(seams, host, f"domain {name}", functools.partial(seams.backend.undefine, name, host))
    for volume in volumes:
        _remove(seams, host, f"volume {target.pool}/{volume}",
                functools.partial(seams.backend.delete_volume, host, target.pool, volume))


def _remove(seams: Seams, host: str, what: str, step: Callable[[], None]) -> None:
    try:
        step()
        seams.progress.event("removed", what=what, host=host)
    except BalancerdError as exc:
        log.error("import cleanup failed: remove it by hand", what=what, host=host, error=str(exc))


def _serial(settings: ImportsConfig, name: str) -> str:
    return str(settings.serial_log_dir / f"{name}.log") if settings.serial_log_dir else ""
