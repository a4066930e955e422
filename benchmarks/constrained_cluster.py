"""Construction alone against construction + improvement on a constrained cluster (issue 24).

Run: ``.venv/bin/python benchmarks/constrained_cluster.py [--hosts 40] [--vms 600] [--budget-s 2.0] [--seeds 3]
[--bitbrains /work/shared/data/bitbrains_rnd]``. Prints one JSON object per seed and one summary.

Cluster: heterogeneous hosts (16 / 32 / 64 cores, 128-512 GiB) in four racks (failure domains), VMs whose
demand comes from real VMs (PlanetLab 2011-03-03 means, or Bitbrains Rnd at mid-trace; see
``optimizer_scale.py``), 30 % of them crowded onto the first fifth of the hosts; anti-affinity groups of three
VMs (one in ten VMs), a spread rule over two racks, a must rule, should rules, and one host in maintenance
(drained in the same plan). Policy: the daemon's defaults with a move budget of 60. Both runs call the same
``plan()`` the daemon calls; the improved one passes ``optimize.Search`` with a deadline ``--budget-s`` seconds
away on ``time.monotonic`` (the daemon's ``[optimizer] time_budget_s`` default is 2.0 s).

Reported per run: ``objective`` (= -score after the plan, lower is better), ``moves``, ``migrated_gib``
(memory plus what the guests dirty meanwhile, the plan's ``migration_mib``), ``seconds`` and which plan was kept.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from optimizer_scale import bitbrains_shares, kept_improvement, place, planetlab_shares

from balancerd.config import PolicyConfig, RuleConfig
from balancerd.model import ClusterSnapshot, Forecast, Host, Plan, Resources
from balancerd.optimize import Search, plan

SHAPES = (Resources(16_000, 131_072), Resources(32_000, 262_144), Resources(64_000, 524_288))
MEM_SIZES = (2048, 4096, 8192, 16384)


def build(hosts: int, vms: int, shares: list[tuple[float, float | None]], seed: int) -> ClusterSnapshot:
    host_list = [Host(f"h{i:03d}", SHAPES[i % 3], domain=f"rack{i % 4}", maintenance=i == hosts - 1)
                 for i in range(hosts)]
    out, used = place(host_list, vms, shares, random.Random(seed), MEM_SIZES, fill=0.85, width=4)
    hosts_used = [Host(h.name, h.capacity, Resources(u[0], u[1]), domain=h.domain, maintenance=h.maintenance)
                  for h, u in zip(host_list, used, strict=True)]
    return ClusterSnapshot(seed, 0.0, tuple(hosts_used), tuple(out))


def policy(snap: ClusterSnapshot, seed: int) -> PolicyConfig:
    rng = random.Random(seed)
    names = [vm.name for vm in snap.vms]
    rng.shuffle(names)
    groups = len(names) // 30
    rules = [RuleConfig(kind="anti_affinity", name=f"aa{g}", vms=tuple(names[3 * g:3 * g + 3])) for g in range(groups)]
    rest = names[3 * groups:]
    rules.append(RuleConfig(kind="spread", name="spread", vms=tuple(rest[:6]), min_domains=2))
    rules.append(RuleConfig(kind="must", name="must", vms=tuple(rest[6:10]), hosts=("h00*", "h01*")))
    rules.append(RuleConfig(kind="should", name="should", vms=tuple(rest[10:20]), hosts=("h02*",)))
    return PolicyConfig(max_moves_per_cycle=60, rules=tuple(rules))


def report(result: Plan, seconds: float) -> dict[str, object]:
    return {"objective": round(-result.score_after, 6), "moves": len(result.moves),
            "migrated_gib": round(result.migration_mib / 1024, 2), "seconds": round(seconds, 3),
            "improved": kept_improvement(result)}


def one(snap: ClusterSnapshot, pol: PolicyConfig, budget_s: float, seed: int) -> dict[str, object]:
    forecast = Forecast(300)
    began = time.monotonic()
    alone = plan(snap, forecast, pol)
    mid = time.monotonic()
    search = Search(deadline=mid + budget_s, now=time.monotonic, seed=seed)
    better = plan(snap, forecast, pol, search=search)
    end = time.monotonic()
    return {"seed": seed, "construction": report(alone, mid - began), "improved": report(better, end - mid)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--hosts", type=int, default=40)
    parser.add_argument("--vms", type=int, default=600)
    parser.add_argument("--budget-s", type=float, default=2.0)
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--bitbrains", type=Path)
    args = parser.parse_args(argv)
    shares = bitbrains_shares(args.bitbrains) if args.bitbrains else planetlab_shares()
    rows = []
    for seed in range(1, args.seeds + 1):
        snap = build(args.hosts, args.vms, shares, seed)
        rows.append(one(snap, policy(snap, seed), args.budget_s, seed))
        print(json.dumps(rows[-1]), flush=True)
    lower = sum(r["improved"]["objective"] < r["construction"]["objective"] for r in rows)  # type: ignore[index]
    no_more = sum(r["improved"]["migrated_gib"] <= r["construction"]["migrated_gib"] for r in rows)  # type: ignore[index]
    print(json.dumps({"summary": True, "runs": len(rows), "lower_objective": lower, "no_more_gib": no_more,
                      "budget_s": args.budget_s, "hosts": args.hosts, "vms": args.vms}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
