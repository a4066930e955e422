"""The one optimizer engine: construction's end state improved within a time budget, for the daemon and ROADEF.

``plan()`` (:mod:`balancerd.optimize.optimizer`) builds a :class:`~balancerd.optimize.engine.model.Model` from its
working state (:mod:`balancerd.optimize.engine.fromstate`) and calls :func:`improve`; ``balancerd bench roadef``
converts an instance into the same model and calls the same search (:mod:`balancerd.optimize.engine.search`).
"""
