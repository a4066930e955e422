"""The shape of ``[policy]``'s lists: placement rules (``[[policy.rules]]``), failure domains
(``[[policy.domains]]``) and blackout windows (``[[policy.blackout]]``).

Part of the configuration's shape (:mod:`balancerd.config.schema` holds :class:`PolicyConfig`, which lists
them); a described cluster file's rules (:mod:`balancerd.config.simulated`) have the same shape. Read by the
optimizer's rules (:mod:`balancerd.optimize.rules`) and the blackout clock (:mod:`balancerd.blackout`).
"""

from __future__ import annotations

from dataclasses import dataclass

from balancerd.blackout import ALLOW_LEVELS
from balancerd.config.fields import opt

RULE_KINDS = ("anti_affinity", "affinity", "must", "must_not", "should", "should_not", "pin", "exclude", "spread",
              "depends", "soft_affinity", "soft_anti_affinity")
"""Placement rule kinds (see RuleConfig)."""


@dataclass(frozen=True, slots=True)
class RuleConfig:
    """One placement rule (``[[policy.rules]]``); ``vms`` and ``hosts`` are names or shell patterns.

    anti_affinity: the VMs run on distinct hosts. affinity: the VMs run on one host. must / must_not: the VMs
    run only on / never on ``hosts``. should / should_not: the same as a soft preference. pin: the VMs stay
    where they are. exclude: balancerd never moves them. spread: the VMs span at least ``min_domains``
    failure domains. depends: every failure domain that runs one of ``vms`` also runs one of ``on`` (a
    dependency between groups within a neighbourhood, e.g. app servers next to a replica of their database).
    soft_affinity / soft_anti_affinity: the VMs should share a host / should run apart, a preference.
    ``weight`` scales a soft rule's penalty (``policy.soft_rule_weight`` per miss, times ``weight``).
    """

    kind: str = opt("anti_affinity", choices=RULE_KINDS)
    name: str = opt("")
    vms: tuple[str, ...] = opt(())
    hosts: tuple[str, ...] = opt(())
    min_domains: int = opt(2, lo=1, hi=1000)
    on: tuple[str, ...] = opt(())
    weight: float = opt(1.0, lo=0.0, hi=1000.0)


@dataclass(frozen=True, slots=True)
class DomainConfig:
    """A failure domain (``[[policy.domains]]``): its name and its hosts (names or shell patterns)."""

    name: str = opt("")
    hosts: tuple[str, ...] = opt(())


@dataclass(frozen=True, slots=True)
class BlackoutConfig:
    """A blackout window (``[[policy.blackout]]``): no balancing from ``start`` to ``end`` (HH:MM wall-clock time in
    ``tz``) on ``days`` (Mon..Sun, ranges such as Mon-Fri, or *); ``allow`` says what still starts inside it. An
    ``end`` not after ``start`` crosses midnight (the window belongs to the day it starts on)."""

    days: tuple[str, ...] = opt(("*",))
    start: str = opt("", required=True)
    end: str = opt("", required=True)
    tz: str = opt("UTC")
    allow: str = opt("drains", choices=tuple(ALLOW_LEVELS))
