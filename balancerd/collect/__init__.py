"""Collection: backend samples -> rates -> ClusterSnapshot (called by the daemon once per cycle)."""

from balancerd.collect.snapshot import Collector, CollectResult

__all__ = ["CollectResult", "Collector"]
