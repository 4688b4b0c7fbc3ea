"""Re-plan benchmark: random cancellations on published 2,000-request rounds.

    uv run python benchmarks/bench_replan.py --seeds 2 --minutes 10
    uv run python benchmarks/bench_replan.py --size 200 --cancellations 20   # quick
    uv run python benchmarks/bench_replan.py --trivial   # a 12-request, one-slot round, 10 s limit

For each seed a round is generated (scheduler.generator) and solved with CP-SAT (the published
plan); then confirmed bookings are cancelled at random, one at a time, each against the published
plan, and ``scheduler.replan`` re-plans the waitlist. Printed: p50/p95/max wall time of the
re-plans, how many requests each promoted, and validator violations (the plan over the changed
round, with the held bookings required to stay where they were).
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from scheduler import Cancellation, replan, solve, validate  # noqa: E402
from scheduler.generator import generate  # noqa: E402


def trivial() -> None:
    """Wall time of a 12-request, one-slot round with a 10 s limit (every stage is proven)."""
    from scheduler import Problem, Request, Resource, Tenant
    from scheduler.problem import GPU_NODE

    problem = Problem(
        horizon=1,
        resources=(Resource("g", GPU_NODE, capacity=8),),
        tenants=tuple(Tenant(f"t{i}") for i in range(3)),
        requests=tuple(
            Request(f"q{i}", f"t{i % 3}", "u", ("g",), 1, 0, 1, units=1 + i % 4) for i in range(12)
        ),
    )
    walls = []
    for _ in range(10):
        t = time.perf_counter()
        plan = solve(problem, time_limit=10)
        walls.append(time.perf_counter() - t)
        assert validate(problem, plan).ok
    print(
        f"trivial round (12 requests, one slot, 10 s limit): status {plan.status}, "
        f"median {statistics.median(walls):.3f} s, max {max(walls):.3f} s over 10 solves"
    )


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--trivial", action="store_true")
    ap.add_argument("--size", type=int, default=2000)
    ap.add_argument("--seeds", type=int, default=2)
    ap.add_argument("--cancellations", type=int, default=10_000, help="at most, over all seeds")
    ap.add_argument("--minutes", type=float, default=10.0, help="wall time for the re-plans")
    ap.add_argument("--time-limit", type=float, default=10.0, help="of the published solve")
    ap.add_argument("--replan-limit", type=float, default=2.0)
    args = ap.parse_args()
    if args.trivial:
        trivial()
        return
    tenants, resources = max(20, args.size // 25), max(12, args.size // 67)
    rounds = []
    for seed in range(args.seeds):
        problem = generate(args.size, tenants, resources, seed=seed)
        plan = solve(problem, time_limit=args.time_limit)
        print(f"seed {seed}: published {plan.status} in {plan.wall_time:.1f} s", flush=True)
        rounds.append((problem, plan))
    rng = random.Random(0)
    times: list[float] = []
    cpus: list[float] = []
    promoted: list[int] = []
    violations = 0
    bad_runs = 0
    stop = time.perf_counter() + args.minutes * 60
    n = 0
    while n < args.cancellations and time.perf_counter() < stop:
        problem, plan = rounds[n % len(rounds)]
        rid = rng.choice(plan.granted_ids())
        t, c = time.perf_counter(), time.process_time()
        out = replan(problem, plan, Cancellation(rid), time_limit=args.replan_limit)
        times.append(time.perf_counter() - t)
        cpus.append(time.process_time() - c)
        promoted.append(len(out.promoted))
        held = {q: (plan.assignments[q].resources, plan.assignments[q].start) for q in out.held}
        report = validate(out.problem, out.plan, held=held, with_figures=False)
        if not report.ok:
            violations += len(report.violations)
            bad_runs += 1
            print("  violations:", report.violations[:3], flush=True)
        n += 1
    times.sort()
    cpus.sort()
    q = statistics.quantiles(times, n=100) if len(times) > 1 else times * 99
    qc = statistics.quantiles(cpus, n=100) if len(cpus) > 1 else cpus * 99
    print(
        f"size {args.size}, {len(rounds)} rounds, {n} cancellations: "
        f"p50 {q[49]:.3f} s, p95 {q[94]:.3f} s, max {times[-1]:.3f} s; "
        f"promoted per re-plan mean {statistics.mean(promoted):.2f}; "
        f"plans with violations {bad_runs}, violations {violations}; "
        f"CPU p50 {qc[49]:.3f} s, p95 {qc[94]:.3f} s; load {os.getloadavg()[0]:.1f}"
    )


if __name__ == "__main__":
    main()
