"""ROADEF/EURO Challenge 2012 machine reassignment: parser, exact objective, solver, instance generator.

Called by :mod:`balancerd.bench.roadef` (``balancerd bench roadef``), ``benchmarks/roadef_a.py`` and the tests.
It maps the challenge onto balancerd's vocabulary (process = VM, machine = host, service conflict =
anti-affinity, spread = failure domains, dependency = neighbourhood affinity) but works on numpy arrays of the
challenge's own model, which is what makes the 50,000-process instances tractable. Pure code: no I/O besides
reading and writing the challenge's text files.
"""
