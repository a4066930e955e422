"""``balancerd import SOURCE``: read an export, place it with the optimizer, check everything, then (unless
``--dry-run``) convert, upload, define and optionally start it.

Registered by :mod:`balancerd.cli` as a lazily loaded sub-command. The source is read and every check is run
before anything changes; when one fails, or with ``--dry-run``, the whole report is printed (``--json``: the
object README "Importing guests" documents) and nothing is created; exit 1 when a check failed. The collection is
the one ``balancerd plan`` makes (:func:`balancerd.service.oneshot.collected_once`), on any backend.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import shutil
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from balancerd import config as config_mod
from balancerd.backends.base import Check, Hypervisor, PoolInfo
from balancerd.config import Config
from balancerd.errors import BalancerdError, ImportSourceError
from balancerd.importing import progress, reading, run, source, target, v2v
from balancerd.journal import Journal
from balancerd.observability import logging as logsetup

if TYPE_CHECKING:
    from balancerd.service.cycle import CycleRunner


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser("import", help="import a guest exported from VMware (VMX, OVA, OVF) or Hyper-V "
                                   "(VHD/VHDX with a spec)")
    parser.add_argument("source", type=Path, help="a .vmx (VMDKs beside it), .ova, .ovf, .vhd or .vhdx file")
    parser.add_argument("--config", type=Path, default=config_mod.DEFAULT_CONFIG_PATH)
    parser.add_argument("--host", default=target.AUTO, help="HOST, or auto (default): the optimizer's choice")
    parser.add_argument("--pool", default="", help="storage pool (default: [imports] pool, else the roomiest)")
    parser.add_argument("--name", help="the VM's name (default: the name in the export)")
    parser.add_argument("--spec", type=Path, help="a VHD/VHDX's TOML spec (default: <disk stem>.toml beside it)")
    parser.add_argument("--compat", action="store_true", help="SATA disks and e1000 NICs instead of virtio "
                        "(guests without virtio drivers)")
    parser.add_argument("--converter", choices=("qemu-img", "virt-v2v"), help="qemu-img: disks copied, guest "
                        "unchanged; virt-v2v: the guest made ready for KVM (default: [imports] converter)")
    parser.add_argument("--dry-run", action="store_true", help="read, place and check; change nothing")
    parser.add_argument("--json", action="store_true", help="machine-readable report and progress events")
    parser.add_argument("--start", action="store_true", help="start the guest once it is defined")
    parser.set_defaults(func=cmd_import)


def cmd_import(args: argparse.Namespace) -> int:
    config = config_mod.load(args.config)
    logsetup.configure("warning", "console", stream=sys.stderr)
    from balancerd.service.oneshot import collected_once

    with _scratch(config) as work:
        export = reading.read(args.source, work, args.spec)
        converter = args.converter or config.imports.converter
        request = target.Request(args.name or export.guest.name, args.host, args.pool, args.compat, converter)
        with collected_once(config) as (runner, proposal):
            snapshot = proposal.collected.snapshot
            pools = _pools(runner.backend, tuple(h.name for h in snapshot.hosts if h.reachable))
            chosen = target.decide(export, request, config, snapshot, proposal.forecast, pools,
                                   runner.journal.failures())
            checks = (*export.checks, *chosen.checks, *((v2v.check(),) if converter == v2v.NAME else ()))
            failed = not all(c.ok for c in checks)
            if args.dry_run or failed:
                if failed and not args.dry_run:
                    _refused(config, export, chosen, request.name, checks, runner.clock.now())
                _report(export, chosen, checks, as_json=args.json)
                return 1 if failed else 0
            done = _execute(export, chosen, request.name, config, runner, work, args)
    _done(done, as_json=args.json)
    return 0


@contextlib.contextmanager
def _scratch(config: Config) -> Iterator[Path]:
    """This import's own directory under ``[imports] work_dir``, removed afterwards whatever happens."""
    base = config.imports.work_dir
    try:
        base.mkdir(parents=True, exist_ok=True)
        work = Path(tempfile.mkdtemp(prefix="import-", dir=base))
    except OSError as exc:
        raise ImportSourceError(base, f"cannot create the work directory ({exc})",
                                "set [imports] work_dir to a writable directory with room for the disks") from exc
    try:
        yield work
    finally:
        shutil.rmtree(work, ignore_errors=True)


def _pools(backend: Hypervisor, hosts: tuple[str, ...]) -> dict[str, tuple[PoolInfo, ...]]:
    found: dict[str, tuple[PoolInfo, ...]] = {}
    for host in hosts:
        with contextlib.suppress(BalancerdError):
            found[host] = backend.storage_pools(host)
    return found


def _execute(export: reading.Export, chosen: target.Target, name: str, config: Config, runner: CycleRunner,
             work: Path, args: argparse.Namespace) -> run.Imported:
    shown = progress.JsonEvents(sys.stdout) if args.json else (
        progress.Bars(sys.stderr) if sys.stderr.isatty() else progress.Quiet())
    journal = Journal(config.paths.journal)
    try:
        seams = run.Seams(runner.backend, journal, runner.clock, shown)
        return run.execute(export, chosen, name, config.imports, work, seams, start=args.start)
    finally:
        journal.close()


def _refused(config: Config, export: reading.Export, chosen: target.Target, name: str, checks: tuple[Check, ...],
             at: float) -> None:
    """An import a check refused is journalled too (with the checks), so the record says why nothing happened."""
    journal = Journal(config.paths.journal)
    try:
        record = journal.import_started(name, str(export.path), chosen.host or "", at, checks)
        failed = "; ".join(f"{c.name}: {c.detail}" for c in checks if not c.ok)
        journal.import_ended(record, "refused", failed, at)
    finally:
        journal.close()


def document(export: reading.Export, chosen: target.Target, checks: tuple[Check, ...]) -> dict[str, object]:
    """The ``--dry-run --json`` object: source, target, checks."""
    return {"source": source.as_json(export.guest), "target": target.as_json(chosen),
            "checks": [{"name": c.name, "ok": c.ok, "detail": c.detail} for c in checks]}


def _report(export: reading.Export, chosen: target.Target, checks: tuple[Check, ...], *, as_json: bool) -> None:
    if as_json:
        print(json.dumps(document(export, chosen, checks), indent=2))
        return
    guest = export.guest
    print(f"{export.path}: {guest.format} guest {guest.name!r}, {guest.vcpus} vCPU, "
          f"{guest.memory_bytes // 2**20} MiB, {guest.firmware}, {len(guest.disks)} disk(s), {len(guest.nics)} NIC(s)")
    mapped = ", ".join(f"{src} -> {dest or '?'}" for src, dest in chosen.networks) or "none"
    print(f"target: host {chosen.host or '(none)'}, pool {chosen.pool or '(none)'}, disks as {chosen.disk_format}, "
          f"networks {mapped}")
    for check in checks:
        print(f"  {'ok  ' if check.ok else 'FAIL'} {check.name}: {check.detail}")


def _done(done: run.Imported, *, as_json: bool) -> None:
    if as_json:
        print(json.dumps({"event": "imported", "vm": done.name, "host": done.host, "volumes": list(done.volumes),
                          "started": done.started}))
    else:
        state = "started" if done.started else "defined (start it with --start, or virsh start)"
        print(f"imported {done.name} on {done.host}: {state}; disks {', '.join(done.volumes)}")
