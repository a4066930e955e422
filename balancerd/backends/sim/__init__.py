"""The simulated backend: :class:`~balancerd.backends.sim.cluster.SimCluster` for decision tests, the demo,
``balancerd simulate`` and the benchmarks (never in place of the libvirt tests)."""
