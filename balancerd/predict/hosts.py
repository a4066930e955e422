"""Per-host forecasts: the sum of the forecasts of the VMs placed on each host.

Called by whoever wants a host-level view of a :class:`~balancerd.model.Forecast` for a given placement (the
optimizer sums VM forecasts itself as it moves VMs; status and reports can use this). Summing the VMs' upper
quantiles gives a conservative host upper bound (it assumes their peaks coincide). VMs without a forecast
count with their measured usage.
"""

from __future__ import annotations

from dataclasses import dataclass

from balancerd.model import ClusterSnapshot, Forecast, Resources


@dataclass(frozen=True, slots=True)
class HostForecast:
    """Predicted load of one host's VMs: the sum of their point and of their upper forecasts."""

    host: str
    point: Resources
    upper: Resources


def per_host(snapshot: ClusterSnapshot, forecast: Forecast) -> tuple[HostForecast, ...]:
    """One value per host of ``snapshot``, from the running VMs on it."""
    by_vm = forecast.as_mapping()
    points: dict[str, list[Resources]] = {h.name: [] for h in snapshot.hosts}
    uppers: dict[str, list[Resources]] = {h.name: [] for h in snapshot.hosts}
    for vm in snapshot.vms:
        if not vm.running or vm.host not in points:
            continue
        known = by_vm.get(vm.name)
        points[vm.host].append(known.point if known else vm.usage)
        uppers[vm.host].append(known.upper if known else vm.usage)
    return tuple(HostForecast(h, Resources.total(points[h]), Resources.total(uppers[h])) for h in points)
