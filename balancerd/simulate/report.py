"""``report.json`` and ``report.html`` (with PNG plots) of one replay.

Called by :mod:`balancerd.simulate.cli` and the benchmark after :class:`~balancerd.simulate.runner.Replay`
ran. :func:`document` builds the JSON document (the keys of issue 8 at the top level, numbers only; SLATAH
and PDM as fractions), :func:`write` writes it, the plots (matplotlib, Agg backend) and an HTML page that
shows them. CloudSim's LR-MMT-1.2 figures for the three PlanetLab days of the data README are attached as
``reference`` when the trace is one of those days.
"""

from __future__ import annotations

import html
import json
import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt

from balancerd.simulate.runner import ReplayResult

LR_MMT_12_PER_DAY = {"20110303": (168.0, 27_649), "20110306": (128.0, 21_661), "20110309": (139.0, 24_239)}
"""CloudSim 3.0.3 LR-MMT-1.2 on the PlanetLab days: energy kWh, migrations (data README)."""
LR_MMT_12_SLAV = 5.10e-5
"""LR-MMT-1.2's SLAV, mean over the 10 days of the CloudSim PlanetLab set."""
LR_MMT_12_SLATAH = 0.0621
"""LR-MMT-1.2's SLATAH, 10-day mean (shown for information: the targets are on SLAV)."""

PLOTS = (
    ("utilisation.png", "Host CPU utilisation (active hosts)"),
    ("active_hosts.png", "Active hosts"),
    ("migrations.png", "Migrations per hour"),
    ("gib_moved.png", "GiB moved (cumulative)"),
    ("forecast_error.png", "Forecast error (CPU MAE, MIPS)"),
    ("sla_violation.png", "SLA-violation time (share of active hosts at 100 % CPU)"),
)


def document(result: ReplayResult, meta: Mapping[str, Any]) -> dict[str, Any]:
    """The report as a JSON-ready dict: the figures, ``meta`` (trace, preset...), reference and series."""
    t = result.totals
    doc: dict[str, Any] = {
        "energy_kwh": t.energy_kwh, "slatah": t.slatah, "pdm": t.pdm, "slav": t.slav, "esv": t.esv,
        "migrations": t.migrations, "ping_pong_moves": t.ping_pong_moves,
        "moves_per_vm_per_day": t.moves_per_vm_per_day, "max_moves_per_vm_day": t.max_moves_per_vm_day,
        "gib_moved": t.gib_moved, "vms": t.vms, "hosts": t.hosts,
        "simulated_seconds": t.simulated_seconds, "wall_seconds": result.wall_seconds,
        "failed_migrations": t.failed_migrations, "mean_active_hosts": t.mean_active_hosts,
        "late_cycles": result.late_cycles, "trainings": result.trainings, **meta,
    }
    reference = reference_for(str(meta.get("trace", "")))
    if reference is not None:
        doc["reference"] = reference
        doc["acceptance"] = acceptance(doc, reference)
    doc["series"] = series(result)
    finite: dict[str, Any] = _finite(doc)
    return finite


def reference_for(trace: str) -> dict[str, Any] | None:
    """LR-MMT-1.2's figures for the PlanetLab day named in ``trace``, if it is one of the three."""
    for day, (energy, migrations) in LR_MMT_12_PER_DAY.items():
        if day in trace:
            return {"policy": "LR-MMT-1.2 (CloudSim 3.0.3)", "day": day, "energy_kwh": energy,
                    "migrations": migrations, "slav": LR_MMT_12_SLAV, "slatah": LR_MMT_12_SLATAH}
    return None


def acceptance(doc: Mapping[str, Any], ref: Mapping[str, Any]) -> dict[str, Any]:
    """The issue's targets for that day and whether this replay meets them."""
    checks = {
        "slav_le_reference": bool(doc["slav"] <= ref["slav"]),
        "migrations_le_half_reference": bool(doc["migrations"] <= 0.5 * ref["migrations"]),
        "energy_le_1.1x_reference": bool(doc["energy_kwh"] <= 1.1 * ref["energy_kwh"]),
        "energy_le_reference (stretch)": bool(doc["energy_kwh"] <= ref["energy_kwh"]),
        "no_ping_pong": bool(doc["ping_pong_moves"] == 0),
        "day_within_60s": bool(doc["wall_seconds"] <= 60.0 * max(1.0, doc["simulated_seconds"] / 86_400)),
        "slatah_le_reference (info)": bool(doc["slatah"] <= ref.get("slatah", LR_MMT_12_SLATAH)),
    }
    return {**checks, "all": all(v for k, v in checks.items() if "(" not in k)}


def series(result: ReplayResult) -> dict[str, list[float | None]]:
    """Per-step series for the plots (hours since the start on ``hours``)."""
    acc = result.accountant
    step_s = acc.step_s
    out: dict[str, list[float | None]] = {"hours": [i * step_s / 3600 for i in range(len(acc.energy_j))]}
    out.update({k: list(v) for k, v in acc.series().items()})
    mae: list[float | None] = [None] * len(acc.energy_j)
    planned: list[float | None] = [None] * len(acc.energy_j)
    for record in result.steps:
        mae[record.step], planned[record.step] = record.forecast_mae_cpu, float(record.planned)
    out["forecast_mae_cpu"] = mae
    out["moves_planned"] = planned
    hourly = [0.0] * max(1, math.ceil(len(acc.energy_j) * step_s / 3600))
    cumulative: list[float | None] = []
    moved = 0.0
    start = acc.end - len(acc.energy_j) * step_s
    ends = sorted(acc.migrations, key=lambda m: m.finished_at)
    for m in ends:
        hourly[min(len(hourly) - 1, int((m.finished_at - start) // 3600))] += 1
    index = 0
    for i in range(len(acc.energy_j)):
        while index < len(ends) and ends[index].finished_at < start + (i + 1) * step_s:
            moved += ends[index].gib
            index += 1
        cumulative.append(moved)
    out["migrations_per_hour"] = list(hourly)
    out["gib_moved_cumulative"] = cumulative
    return out


def _finite(value: Any) -> Any:
    """NaN / inf (no data) become null; numpy numbers become Python numbers."""
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_finite(v) for v in value]
    if isinstance(value, bool) or value is None or isinstance(value, str | int):
        return value
    number = float(value)
    return number if math.isfinite(number) else None


def write(out: Path, doc: Mapping[str, Any]) -> list[Path]:
    """Write report.json, the PNG plots and report.html into ``out``; the paths written."""
    out.mkdir(parents=True, exist_ok=True)
    paths = [out / "report.json"]
    paths[0].write_text(json.dumps(doc, indent=2) + "\n", encoding="utf-8")
    paths += plot_all(out, doc["series"])
    paths.append(out / "report.html")
    paths[-1].write_text(page(doc), encoding="utf-8")
    return paths


def plot_all(out: Path, data: Mapping[str, Sequence[float | None]]) -> list[Path]:
    """One PNG per plot of :data:`PLOTS`."""
    hours = [float(h or 0.0) for h in data["hours"]]
    drawers = (_utilisation, _active, _migrations, _gib, _forecast, _sla)
    written = []
    for (name, title), draw in zip(PLOTS, drawers, strict=True):
        fig, ax = plt.subplots(figsize=(8, 3.2), dpi=100)
        draw(ax, hours, data)
        ax.set_title(title)
        ax.set_xlabel("hours")
        ax.grid(alpha=0.3)
        fig.tight_layout()
        fig.savefig(out / name)
        plt.close(fig)
        written.append(out / name)
    return written


def _nums(values: Sequence[float | None]) -> list[float]:
    return [math.nan if v is None else float(v) for v in values]


def _utilisation(ax: Any, hours: list[float], data: Mapping[str, Sequence[float | None]]) -> None:
    pct = {p: [100 * v for v in _nums(data[f"util_p{p}"])] for p in (5, 25, 50, 75, 95, 100)}
    ax.fill_between(hours, pct[5], pct[95], alpha=0.2, label="p5-p95")
    ax.fill_between(hours, pct[25], pct[75], alpha=0.4, label="p25-p75")
    ax.plot(hours, pct[50], label="median")
    ax.plot(hours, pct[100], linewidth=0.8, label="max")
    ax.set_ylabel("% CPU")
    ax.legend(loc="lower right", fontsize="small")


def _active(ax: Any, hours: list[float], data: Mapping[str, Sequence[float | None]]) -> None:
    ax.plot(hours, _nums(data["active_hosts"]))
    ax.set_ylabel("hosts")


def _migrations(ax: Any, hours: list[float], data: Mapping[str, Sequence[float | None]]) -> None:
    counts = _nums(data["migrations_per_hour"])
    ax.bar([i + 0.5 for i in range(len(counts))], counts, width=0.9)
    ax.set_ylabel("migrations")


def _gib(ax: Any, hours: list[float], data: Mapping[str, Sequence[float | None]]) -> None:
    ax.plot(hours, _nums(data["gib_moved_cumulative"]))
    ax.set_ylabel("GiB")


def _forecast(ax: Any, hours: list[float], data: Mapping[str, Sequence[float | None]]) -> None:
    points = [(h, float(v)) for h, v in zip(hours, data["forecast_mae_cpu"], strict=True) if v is not None]
    ax.plot([h for h, _ in points], [v for _, v in points], marker=".", markersize=3, linewidth=0.8)
    ax.set_ylabel("MAE (MIPS)")


def _sla(ax: Any, hours: list[float], data: Mapping[str, Sequence[float | None]]) -> None:
    ax.plot(hours, _nums(data["sla_violation_pct"]))
    ax.set_ylabel("% of active host-time")


_SUMMARY = ("energy_kwh", "slatah", "pdm", "slav", "esv", "migrations", "ping_pong_moves", "moves_per_vm_per_day",
            "max_moves_per_vm_day", "gib_moved", "vms", "hosts", "mean_active_hosts", "simulated_seconds",
            "wall_seconds")


def page(doc: Mapping[str, Any]) -> str:
    """The HTML page: the figures, the reference comparison and the plots."""
    rows = "".join(f"<tr><th>{k}</th><td>{_fmt(doc.get(k))}</td></tr>" for k in _SUMMARY)
    ref = doc.get("reference")
    ref_html = ""
    if isinstance(ref, dict):
        checks = "".join(f"<tr><th>{html.escape(k)}</th><td>{'yes' if v else 'NO'}</td></tr>"
                         for k, v in doc.get("acceptance", {}).items())
        ref_html = (f"<h2>Compared with {html.escape(str(ref['policy']))}, day {html.escape(str(ref['day']))}</h2>"
                    f"<p>reference: {ref['energy_kwh']} kWh, {ref['migrations']} migrations, SLAV {ref['slav']}</p>"
                    f"<table>{checks}</table>")
    imgs = "".join(f'<h3>{html.escape(title)}</h3><img src="{name}" alt="{html.escape(title)}">'
                   for name, title in PLOTS)
    title = f"balancerd simulate: {html.escape(str(doc.get('trace', '')))}"
    return (f"<!doctype html><html><head><meta charset='utf-8'><title>{title}</title>"
            "<style>body{font-family:sans-serif;margin:2em}th{text-align:left;padding-right:1em}</style></head>"
            f"<body><h1>{title}</h1><p>preset {html.escape(str(doc.get('preset', '')))}, strategy "
            f"{html.escape(str(doc.get('strategy', '')))}</p><table>{rows}</table>{ref_html}{imgs}</body></html>\n")


def _fmt(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    return html.escape(str(value))
