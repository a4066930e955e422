"""``balancerd simulate``: the sub-command that replays a trace and writes the report.

Registered by :func:`balancerd.cli.build_parser` through :func:`register`. It loads the trace
(:func:`balancerd.traces.load_workload`), builds the cluster of ``--preset`` (or of the config's ``[sim]`` section:
its described cluster when ``[sim] cluster`` is set),
runs the :class:`~balancerd.simulate.runner.Replay` with a progress bar on a TTY, writes ``report.json`` and
``report.html`` (:mod:`~balancerd.simulate.report`) into ``--out`` and prints the summary as JSON.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TextIO

from tqdm import tqdm

from balancerd import config as config_mod
from balancerd.config import Config
from balancerd.errors import ConfigError
from balancerd.observability import logging as logsetup
from balancerd.simulate import cluster as cluster_mod
from balancerd.simulate import report
from balancerd.simulate.preset import PRESETS, Preset, preset, preset_from_config
from balancerd.simulate.runner import START, Replay, ReplayResult, replay_config
from balancerd.traces import Workload, load_workload

SUMMARY_KEYS = ("energy_kwh", "slatah", "pdm", "slav", "esv", "migrations", "ping_pong_moves",
                "moves_per_vm_per_day", "max_moves_per_vm_day", "gib_moved", "vms", "hosts", "simulated_seconds",
                "wall_seconds")


def register(subparsers: Any) -> None:
    """Add ``simulate`` to the ``balancerd`` parser."""
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "simulate", help="replay recorded utilisation through the pipeline and write a report")
    parser.add_argument("--trace", required=True, help="planetlab:DIR | bitbrains:DIR | wide-csv:FILE")
    parser.add_argument("--config", type=Path, required=True, help="policy, throttle and predictor settings")
    parser.add_argument("--out", type=Path, required=True, help="folder for report.json, report.html, plots")
    parser.add_argument("--preset", choices=sorted(PRESETS), help="cluster preset (default: the config's [sim])")
    parser.add_argument("--days", type=float, help="replay only the first N days of the trace")
    parser.add_argument("--strategy", choices=("consolidate", "balance"),
                        help="override policy.strategy (consolidation or balance mode)")
    parser.add_argument("--journal", action="store_true", help="keep the journal as OUT/journal.sqlite")
    parser.set_defaults(func=cmd_simulate)


def cmd_simulate(args: argparse.Namespace) -> int:
    config = config_mod.load(args.config)
    logsetup.configure("warning", "console")
    chosen = _preset(args.preset, config)
    result, meta = simulate(config, chosen, args.trace, args.out, days=args.days, strategy=args.strategy,
                            keep_journal=args.journal, progress_to=sys.stderr)
    doc = report.document(result, meta)
    report.write(args.out, doc)
    print(json.dumps({k: doc[k] for k in (*SUMMARY_KEYS, "strategy", "trace")}, indent=2))
    return 0


def _preset(name: str | None, config: Config) -> Preset | None:
    """``--preset``; else the config's drawn ``[sim]`` cluster; None for its described cluster."""
    if name:
        return preset(name)
    return None if config.sim.described is not None else preset_from_config(config.sim, config.migration.link_mib_s)


def simulate(config: Config, chosen: Preset | None, trace: str, out: Path, days: float | None = None,
             strategy: str | None = None, keep_journal: bool = False,
             progress_to: TextIO | None = None) -> tuple[ReplayResult, dict[str, Any]]:
    """Load, build, replay; the result and the report's metadata. ``chosen`` None: the config's described
    cluster (``[sim] cluster``), stepped by ``[sim] trace_step_s``."""
    workload = load_workload(trace, days=days, step_s=chosen.step_s if chosen else config.sim.trace_step_s)
    cluster = _cluster(workload, config, chosen)
    out.mkdir(parents=True, exist_ok=True)
    run_config = replay_config(config, cluster, strategy, out)
    journal = out / "journal.sqlite" if keep_journal else None
    if journal is not None:
        journal.unlink(missing_ok=True)
    with _bar(progress_to) as bar:
        result = Replay(cluster, run_config, journal, progress=bar).run()
    meta = {"trace": trace, "preset": chosen.name if chosen else f"described:{config.sim.cluster}",
            "strategy": run_config.policy.strategy, "predict_method": run_config.predict.method,
            "step_s": cluster.step_s, "memory_overcommit": chosen.memory_overcommit if chosen else 1}
    return result, meta


def _cluster(workload: Workload, config: Config, chosen: Preset | None) -> cluster_mod.Cluster:
    if chosen is not None:
        return cluster_mod.build(workload, chosen, START)
    if config.sim.described is None:
        raise ConfigError("sim.cluster", None, "a replay without --preset needs [sim] cluster or the [sim] keys")
    return cluster_mod.from_described(workload, config.sim.described, START, config.migration.link_mib_s)


@contextlib.contextmanager
def _bar(stream: TextIO | None) -> Iterator[Callable[[int, int], None] | None]:
    """A tqdm bar of replayed steps on ``stream`` when it is a TTY (else no progress shown)."""
    if stream is None or not stream.isatty():
        yield None
        return
    with tqdm(unit="step", file=stream) as bar:
        def show(done: int, total: int) -> None:
            bar.total = total
            bar.update(done - bar.n)

        yield show
