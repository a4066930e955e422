"""Rates from cumulative counters.

The collector keeps the previous sample of every counter and turns pairs of samples into rates. Counter
resets (a VM restarted, a host rebooted) give no rate rather than a negative one.
"""

from __future__ import annotations

from dataclasses import dataclass

NS_PER_MILLICORE_SECOND = 1_000_000  # 1 core busy for 1 s = 1e9 ns = 1000 millicores


@dataclass(frozen=True, slots=True)
class CounterSample:
    """One reading of a cumulative CPU-time counter, in ns, taken at ``at`` seconds."""

    at: float
    cpu_time_ns: int


def cpu_millicores(previous: CounterSample | None, current: CounterSample) -> int | None:
    """Average CPU use between two samples in millicores, or None when no rate can be formed."""
    if previous is None:
        return None
    elapsed = current.at - previous.at
    delta = current.cpu_time_ns - previous.cpu_time_ns
    if elapsed <= 0 or delta < 0:
        return None
    return round(delta / elapsed / NS_PER_MILLICORE_SECOND)
