"""Benchmark of the planners on generated weeks.

    uv run python benchmarks/bench_scheduler.py            # all sizes (several minutes)
    uv run python benchmarks/bench_scheduler.py --smoke    # one tiny size, a few seconds
    uv run python benchmarks/bench_scheduler.py --sizes 2000 --seed 3
    uv run python benchmarks/bench_scheduler.py --sizes 2000 --seeds 0 1 2 --generator hotspots

Every (size, planner) runs in its own subprocess so its peak memory (ru_maxrss, which includes
generating the week) is its own. Printed per run: wall time (model build included, generation
excluded), peak memory, the fairness floor z, the proven upper bound on z (CP-SAT), the gap,
the second leximin level, utilisation, Jain's index, granted requests, and whether the solver-free
validator accepts the plan.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

# requests: (tenants, resources, CP-SAT time limit in seconds)
SIZES = {
    200: (20, 12, 3.0),
    2000: (80, 30, 10.0),
    5000: (120, 75, 30.0),
    20000: (200, 300, 60.0),
}
PLANNERS = ("fcfs", "greedy", "cpsat")


def run_one(
    n: int, planner: str, seed: int, time_limit: float | None, generator: str = "week"
) -> dict:
    from scheduler import solve, validate
    from scheduler.generator import generate
    from scheduler.hotspots import generate_hotspots

    tenants, resources, default_limit = SIZES.get(n, (max(20, n // 25), max(12, n // 67), 10.0))
    if generator == "hotspots":
        problem = generate_hotspots(n, seed=seed)
        tenants, resources = len(problem.tenants), len(problem.resources)
    else:
        problem = generate(n, tenants, resources, seed=seed)
    t0 = time.perf_counter()
    plan = solve(problem, planner=planner, time_limit=time_limit or default_limit)
    wall = time.perf_counter() - t0
    report = validate(problem, plan)
    fig = report.figures
    levels = plan.objectives.get("floor_levels") or []
    rss_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return {
        "size": n,
        "tenants": tenants,
        "resources": resources,
        "planner": planner,
        "status": plan.status,
        "wall": wall,
        "peak_mb": rss_kb / 1024,
        "floor": fig.floor,
        "bound": plan.bounds.get("floor"),
        "level2": levels[1] if len(levels) > 1 else None,
        "lowest": sorted(v for k, v in fig.share.items())[:3],
        "utilisation": fig.utilisation,
        "jain": fig.jain,
        "granted": fig.granted_requests,
        "requests": len(problem.requests),
        "valid": report.ok,
        "seed": seed,
        "generator": generator,
        "demand_unproven": plan.objectives.get("demand_unproven"),
    }


def _fmt(x, pattern="{:.3f}"):
    return "-" if x is None else pattern.format(x)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--smoke", action="store_true", help="one tiny size, quickly")
    parser.add_argument("--sizes", type=int, nargs="*", default=None)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--seeds", type=int, nargs="*", default=None, help="several seeds")
    parser.add_argument("--generator", choices=("week", "hotspots"), default="week")
    parser.add_argument("--time-limit", type=float, default=None)
    parser.add_argument("--planners", nargs="*", default=list(PLANNERS))
    parser.add_argument("--one", nargs=2, metavar=("SIZE", "PLANNER"), help=argparse.SUPPRESS)
    parser.add_argument("--json", action="store_true", help="print the rows as JSON too")
    args = parser.parse_args(argv)

    if args.one:
        row = run_one(int(args.one[0]), args.one[1], args.seed, args.time_limit, args.generator)
        print(json.dumps(row))
        return 0

    sizes = [200] if args.smoke else (args.sizes or list(SIZES))
    limit = args.time_limit or (2.0 if args.smoke else None)
    rows = []
    header = (
        f"{'size':>6} {'tenants':>7} {'res':>4} {'planner':>7} {'status':>15} {'wall s':>7} "
        f"{'peak MB':>8} {'floor':>7} {'bound':>7} {'gap':>7} {'level2':>7} {'util':>6} "
        f"{'jain':>6} {'granted':>11} {'seed':>4} {'valid':>5}"
    )
    print(header)
    seeds = args.seeds if args.seeds else [args.seed]
    for n, seed in [(n, seed) for n in sizes for seed in seeds]:
        size_rows = []
        for planner in args.planners:
            cmd = [sys.executable, __file__, "--one", str(n), planner, "--seed", str(seed)]
            cmd += ["--generator", args.generator]
            if limit:
                cmd += ["--time-limit", str(limit)]
            out = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT)
            if out.returncode != 0:
                print(f"{n:>6} {planner:>7} FAILED\n{out.stderr[-2000:]}")
                continue
            size_rows.append(json.loads(out.stdout.strip().splitlines()[-1]))
        bound = next((r["bound"] for r in size_rows if r["bound"] is not None), None)
        for r in size_rows:
            r["gap"] = None if bound is None else bound - r["floor"]
            print(
                f"{r['size']:>6} {r['tenants']:>7} {r['resources']:>4} {r['planner']:>7} "
                f"{r['status']:>15} {r['wall']:>7.2f} {r['peak_mb']:>8.0f} {r['floor']:>7.3f} "
                f"{_fmt(r['bound'])!s:>7} {_fmt(r['gap'])!s:>7} {_fmt(r['level2'])!s:>7} "
                f"{r['utilisation']:>6.3f} {r['jain']:>6.3f} "
                f"{r['granted']:>5}/{r['requests']:<5} {r['seed']:>4} {r['valid']!s:>5}",
                flush=True,
            )
        rows += size_rows
    if args.json:
        print(json.dumps(rows, indent=1))
    return 0 if all(r["valid"] for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
