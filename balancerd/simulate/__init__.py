"""``balancerd simulate``: replay recorded utilisation through the real pipeline and report on it.

``balancerd.cli`` registers the sub-command from :mod:`balancerd.simulate.cli`. The replay
(:mod:`~balancerd.simulate.runner`) builds a simulated cluster from a trace (:func:`balancerd.traces.load_workload`)
and a preset (:mod:`~balancerd.simulate.preset`), drives ``service.cycle.CycleRunner`` (collect, predict,
optimize, execute) on a fake clock, and measures energy and SLA figures comparable with CloudSim
(:mod:`~balancerd.simulate.power`, :mod:`~balancerd.simulate.accounting`) for the report
(:mod:`~balancerd.simulate.report`).
"""
