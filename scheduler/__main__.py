"""Command line: plan or audit a round from JSON files.

    python -m scheduler solve problem.json --time-limit 10 --out plan.json
    python -m scheduler validate problem.json plan.json
    python -m scheduler contract

``solve`` prints a summary (status, floor, bound, utilisation) and writes the plan; ``validate``
prints the violations (if any) and the fairness figures and exits 1 when the plan breaks a rule.
Bad input exits 2 with the field and the rule named.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from scheduler.fairness import FAIRNESS_CONTRACT
from scheduler.jsonio import plan_from_json, plan_to_json, problem_from_json
from scheduler.problem import ProblemError
from scheduler.solve import solve
from scheduler.validate import validate


def _read(path: str) -> str:
    try:
        return Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise SystemExit(f"error: cannot read {path}: {exc.strerror}") from exc


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m scheduler", description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    s = sub.add_parser("solve", help="plan a round")
    s.add_argument("problem")
    s.add_argument("--time-limit", type=float, default=10.0, help="seconds, model build included")
    s.add_argument("--out", help="write the plan here (default: standard output)")
    s.add_argument("--planner", choices=("cpsat", "greedy", "fcfs"), default="cpsat")
    s.add_argument("--workers", type=int, default=2)
    s.add_argument("--seed", type=int, default=0)
    v = sub.add_parser("validate", help="check a plan against its problem")
    v.add_argument("problem")
    v.add_argument("plan")
    sub.add_parser("contract", help="print the fairness contract")
    args = parser.parse_args(argv)

    if args.command == "contract":
        print(FAIRNESS_CONTRACT)
        return 0
    try:
        problem = problem_from_json(_read(args.problem))
        if args.command == "solve":
            plan = solve(
                problem,
                time_limit=args.time_limit,
                planner=args.planner,
                workers=args.workers,
                seed=args.seed,
            )
            text = plan_to_json(plan, indent=1)
            if args.out:
                Path(args.out).write_text(text, encoding="utf-8")
            else:
                print(text)
            fig = plan.figures
            summary = {
                "status": plan.status,
                "granted": f"{fig['granted_requests']}/{len(problem.requests)}",
                "floor": fig["floor"],
                "floor_bound": plan.bounds.get("floor"),
                "utilisation": fig["utilisation"],
                "jain": fig["jain"],
                "wall_time": round(plan.wall_time, 3),
            }
            print(json.dumps(summary), file=sys.stderr if not args.out else sys.stdout)
            return 0
        plan = plan_from_json(_read(args.plan))
        report = validate(problem, plan)
        print(json.dumps(report.as_dict(), indent=1))
        return 0 if report.ok else 1
    except ProblemError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
