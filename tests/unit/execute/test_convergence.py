from __future__ import annotations

import math

from balancerd.backends.base import JobState, JobStats, VmPolicy
from balancerd.config import MigrationConfig, ThrottleConfig
from balancerd.execute.convergence import (
    Action,
    Escalation,
    deadline_s,
    escalate,
    expected_downtime_ms,
    resolve,
    tolerance_problem,
)

MIG = MigrationConfig(downtime_schedule_ms=(100, 300, 500), stall_iterations=2, auto_converge=False,
                      postcopy=False, deadline_factor=2.0, deadline_min_s=10.0, link_mib_s=100,
                      bandwidth_mib_s=50)
THR = ThrottleConfig(deadline_s=600.0)


def test_vm_overrides_win_and_the_schedule_is_clipped_to_the_tolerance() -> None:
    conv = resolve(MIG, VmPolicy(max_downtime_ms=300, postcopy=True, bandwidth_mib_s=20))
    assert conv.schedule_ms == (100, 300) and conv.postcopy and not conv.auto_converge
    assert (conv.bandwidth_mib_s, conv.speed_mib_s) == (20, 20)
    tight = resolve(MIG, VmPolicy(max_downtime_ms=40))
    assert tight.schedule_ms == (40,)


def test_expected_downtime_and_tolerance() -> None:
    plain = resolve(MIG, VmPolicy())
    assert expected_downtime_ms(plain, 0) == 100
    assert math.isinf(expected_downtime_ms(plain, 45))  # 45 >= 0.8 * 50 and nothing can force it
    assert tolerance_problem(plain, 45) is not None and "converge" in str(tolerance_problem(plain, 45))
    ac = resolve(MIG, VmPolicy(auto_converge=True))
    assert expected_downtime_ms(ac, 45) == 500
    strict = resolve(MIG, VmPolicy(max_downtime_ms=30))
    assert "tolerates 30 ms" in str(tolerance_problem(strict, 0))  # below the switch-over floor
    assert tolerance_problem(resolve(MIG, VmPolicy(max_downtime_ms=200)), 0) is None


def test_deadline_grows_with_memory_and_dirty_rate_within_bounds() -> None:
    conv = resolve(MIG, VmPolicy())
    idle = deadline_s(conv, MIG, THR, 1000, 0)
    busy = deadline_s(conv, MIG, THR, 1000, 30)
    assert idle == 2.0 * 1000 / 50 + 5.0
    assert busy == 2.0 * 1000 / 20 + 5.0 > idle
    assert deadline_s(conv, MIG, THR, 1, 0) == 10.0  # the minimum
    assert deadline_s(conv, MIG, ThrottleConfig(deadline_s=30.0), 1000, 0) == 30.0


def running(iteration: int) -> JobStats:
    return JobStats("vm", JobState.RUNNING, iteration=iteration)


def test_escalation_widens_downtime_per_stall_then_switches_to_postcopy() -> None:
    conv = resolve(MIG, VmPolicy(postcopy=True))
    state = Escalation()
    actions = []
    for iteration in range(1, 12):
        state, action = escalate(state, running(iteration), conv)
        if action is not None:
            actions.append((iteration, action))
    assert actions == [(2, Action(downtime_ms=300)), (4, Action(downtime_ms=500)), (6, Action(postcopy=True))]


def test_no_postcopy_when_not_allowed() -> None:
    conv = resolve(MIG, VmPolicy())
    state = Escalation()
    seen = []
    for iteration in range(1, 20):
        state, action = escalate(state, running(iteration), conv)
        seen.append(action)
    assert Action(postcopy=True) not in seen and Action(downtime_ms=500) in seen
