"""Benchmarks reachable from the CLI (`balancerd bench ...`): each sub-module registers one sub-command."""
