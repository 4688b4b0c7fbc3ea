"""Benchmark of the planners on generated weeks.

    uv run python benchmarks/bench_scheduler.py            # all sizes (several minutes)
    uv run python benchmarks/bench_scheduler.py --smoke    # one tiny size, a few seconds
    uv run python benchmarks/bench_scheduler.py --sizes 2000 --seed 3
    uv run python benchmarks/bench_scheduler.py --sizes 2000 --seeds 0 1 2 --generator hotspots
    uv run python benchmarks/bench_scheduler.py --sizes 2000 --seeds 0 1 2 3 \
        --generators week hotspots --planners fcfs cpsat --bound-time 60   # seeds x generators
    uv run python benchmarks/bench_scheduler.py --sizes 2000 --seeds 200 201 --generators week \
        hotspots --planners fcfs cpsat --bound-time 60 --bound-seeds 200   # long runs on a subset

Every (size, planner) runs in its own subprocess so its peak memory (ru_maxrss, which includes
generating the week) is its own. Printed per run: wall time (model build included, generation
excluded), peak memory, the fairness floor z, the proven upper bound on z (CP-SAT), the gap,
the second leximin level, utilisation, Jain's index, granted requests, and whether the solver-free
validator accepts the plan. With ``--generators`` every seed runs on each generator and a summary
per generator follows: on how many seeds the floor reaches 99% of the best bound known (the
smallest of the run's own bound and, with ``--bound-time``, the bound a longer CP-SAT run proves),
how many have a floor of 0 where the bound is positive, the worst seed, and the CPU seconds;
then the median and worst floor, the median bound, utilisation over FCFS and validity. The load
average is printed at the start and the end (the machine's other work slows the solves).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import resource
import statistics
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
    t0, c0 = time.perf_counter(), time.process_time()
    plan = solve(problem, planner=planner, time_limit=time_limit or default_limit)
    wall, cpu = time.perf_counter() - t0, time.process_time() - c0
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
        "cpu": cpu,
        "load": os.getloadavg()[0],
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


def _grouped(rows: list[dict], planners: list[str]):
    """The rows of ``planners`` by (size, generator, planner), and a function giving a group's
    utilisation minus FCFS's on the same instance (seeds FCFS ran on)."""
    fcfs = {(r["size"], r["generator"], r["seed"]): r for r in rows if r["planner"] == "fcfs"}
    groups: dict[tuple, list[dict]] = {}
    for r in rows:
        if r["planner"] in planners:
            groups.setdefault((r["size"], r["generator"], r["planner"]), []).append(r)

    def lifts(rs: list[dict]) -> list[float]:
        keys = ((r, (r["size"], r["generator"], r["seed"])) for r in rs)
        return [r["utilisation"] - fcfs[k]["utilisation"] for r, k in keys if k in fcfs]

    return groups, lifts


def _summary(rows: list[dict], planners: list[str]) -> None:
    """Per size, generator and planner: seeds whose floor reaches 99% of the best bound known,
    zero floors under a positive bound, the worst seed, utilisation against FCFS."""
    groups, lifts = _grouped(rows, planners)
    print(
        "\nsize generator planner seeds  >=99%  zero-under-positive  worst(seed floor/bound)"
        "  util-fcfs(min)  cpu-s(med)  valid"
    )
    for (n, gen, planner), rs in sorted(groups.items()):

        def ratio(r):
            # A bound within the rounding of 0 (z is counted in 1/10,000ths) proves a floor of 0.
            b = r["best_bound"]
            return 1.0 if b is not None and b < 0.001 else r["floor"] / b if b else math.inf

        good = sum(ratio(r) >= 0.99 and r["best_bound"] is not None for r in rs)
        unknown = sum(r["best_bound"] is None for r in rs)
        zero = sum(r["floor"] == 0 and (r["best_bound"] or 0) >= 0.001 for r in rs)
        worst = min(rs, key=lambda r: (ratio(r), r["floor"]))
        lift = lifts(rs)
        cpu = sorted(r["cpu"] for r in rs)[len(rs) // 2]
        print(
            f"{n:>5} {gen:>9} {planner:>7} {len(rs):>5} {good:>6} {zero:>20}  "
            f"{worst['seed']:>4} {worst['floor']:.3f}/{_fmt(worst['best_bound'])}"
            f"  {_fmt(min(lift) if lift else None, '{:+.3f}'):>14}  {cpu:>10.2f}"
            f"  {all(r['valid'] for r in rs)!s:>5}  (no bound known on {unknown})"
        )


def _median(xs: list[float]) -> float | None:
    return statistics.median(xs) if xs else None


def _medians(rows: list[dict], planners: list[str]) -> None:
    """Per size, generator and planner: median and worst floor, the median best bound known
    (seeds with one), utilisation over FCFS (median and worst), wall time and validity."""
    groups, lifts = _grouped(rows, planners)
    print(
        "\nsize generator planner seeds  floor(med)  floor(worst: seed)  bound(med, n)"
        "  util(med)  util-fcfs(med)  util-fcfs(worst)  wall(max)  valid"
    )
    for (n, gen, planner), rs in sorted(groups.items()):
        worst = min(rs, key=lambda r: (r["floor"], r["seed"]))
        bounds = [r["best_bound"] for r in rs if r["best_bound"] is not None]
        lift = lifts(rs)
        print(
            f"{n:>5} {gen:>9} {planner:>7} {len(rs):>5}  {_median([r['floor'] for r in rs]):>10.3f}"
            f"  {worst['floor']:>10.3f}: {worst['seed']:<5}"
            f"  {_fmt(_median(bounds))!s:>7}, {len(bounds):<4}"
            f"  {_median([r['utilisation'] for r in rs]):>9.3f}"
            f"  {_fmt(_median(lift), '{:+.3f}')!s:>14}  {_fmt(min(lift) if lift else None, '{:+.3f}')!s:>16}"
            f"  {max(r['wall'] for r in rs):>9.2f}  {all(r['valid'] for r in rs)!s:>5}"
        )


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--smoke", action="store_true", help="one tiny size, quickly")
    parser.add_argument("--sizes", type=int, nargs="*", default=None)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--seeds", type=int, nargs="*", default=None, help="several seeds")
    parser.add_argument("--generator", choices=("week", "hotspots"), default="week")
    parser.add_argument(
        "--generators", nargs="*", choices=("week", "hotspots"), help="seeds x generators"
    )
    parser.add_argument(
        "--bound-time", type=float, default=None, help="also run CP-SAT this long for the bound"
    )
    parser.add_argument(
        "--bound-seeds",
        type=int,
        nargs="*",
        default=None,
        help="run the --bound-time solve on these seeds only (default: every seed)",
    )
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
    print(f"load average at start: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    print(header)
    seeds = args.seeds if args.seeds else [args.seed]
    generators = args.generators or [args.generator]
    runs = [(n, g, seed) for n in sizes for g in generators for seed in seeds]
    for n, generator, seed in runs:
        size_rows = []
        planners = [(p, limit) for p in args.planners]
        long_run = args.bound_time and (args.bound_seeds is None or seed in args.bound_seeds)
        if long_run:
            planners.append(("cpsat", args.bound_time))
        for planner, this_limit in planners:
            cmd = [sys.executable, __file__, "--one", str(n), planner, "--seed", str(seed)]
            cmd += ["--generator", generator]
            if this_limit:
                cmd += ["--time-limit", str(this_limit)]
            out = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT)
            if out.returncode != 0:
                print(f"{n:>6} {planner:>7} FAILED\n{out.stderr[-2000:]}")
                continue
            size_rows.append(json.loads(out.stdout.strip().splitlines()[-1]))
        if long_run and size_rows:
            size_rows[-1]["planner"] = "bound"
        found = [r["bound"] for r in size_rows if r["bound"] is not None]
        bound = min(found) if found else None
        for r in size_rows:
            r["gap"] = None if bound is None else bound - r["floor"]
            r["best_bound"] = bound
            print(
                f"{r['size']:>6} {r['tenants']:>7} {r['resources']:>4} {r['planner']:>7} "
                f"{r['status']:>15} {r['wall']:>7.2f} {r['peak_mb']:>8.0f} {r['floor']:>7.3f} "
                f"{_fmt(r['bound'])!s:>7} {_fmt(r['gap'])!s:>7} {_fmt(r['level2'])!s:>7} "
                f"{r['utilisation']:>6.3f} {r['jain']:>6.3f} "
                f"{r['granted']:>5}/{r['requests']:<5} {r['seed']:>4} {r['valid']!s:>5}",
                flush=True,
            )
        rows += size_rows
    if args.generators:
        _summary(rows, [p for p in args.planners if p == "cpsat"] or args.planners[-1:])
        _medians(rows, [p for p in args.planners if p == "cpsat"] or args.planners[-1:])
    print(f"load average at end: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    if args.json:
        print(json.dumps(rows, indent=1))
    return 0 if all(r["valid"] for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
