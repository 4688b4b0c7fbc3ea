"""The entry point: ``solve(problem)`` returns a feasible, explained plan."""

from __future__ import annotations

import time

from scheduler.analysis import Prepared, prepare
from scheduler.decompose import BLOCK_MAX, plan_parts
from scheduler.fairness import floor_cap
from scheduler.greedy import first_come_first_served, greedy_fair
from scheduler.pipeline import SHARES, Budget
from scheduler.plan import Plan
from scheduler.problem import Problem
from scheduler.reasons import make_plan


def solve(
    problem: Problem,
    *,
    time_limit: float = 10.0,
    planner: str = "cpsat",
    workers: int = 2,
    seed: int = 0,
    block_max: int | None = None,
) -> Plan:
    """Plan a round. ``planner``: ``cpsat`` (default), ``greedy`` or ``fcfs``.

    Input is checked first (:class:`scheduler.problem.ProblemError` on bad input). The result is
    always feasible: if CP-SAT finds nothing in ``time_limit`` seconds (model build included),
    the greedy fair plan is returned with status ``greedy_fallback``. The round is split into
    independent parts, and parts larger than ``block_max`` requests into blocks
    (:mod:`scheduler.decompose`).
    """
    t0 = time.perf_counter()
    # Demand alone is solved exactly within a small share of the time.
    prep = prepare(problem, demand_seconds=SHARES.demand * time_limit)
    if planner == "greedy":
        return greedy_fair(problem, prep=prep)
    if planner == "fcfs":
        return first_come_first_served(problem, prep=prep)
    if planner != "cpsat":
        raise ValueError(f"unknown planner {planner!r} (cpsat, greedy or fcfs)")
    plan = _solve_cpsat(
        prep, time_limit=time_limit, workers=workers, seed=seed, started=t0, block_max=block_max
    )
    # No fair level exceeds the one at which every tenant's demand is met: a solver's bound at or
    # above it proves nothing (unless the plan reaches it), so none is reported then.
    if "floor" in plan.bounds:
        cap = floor_cap(prep)
        bound = min(plan.bounds["floor"], cap)
        if bound >= cap - 1e-9 and plan.figures.get("floor", 0.0) < cap - 1e-9:
            del plan.bounds["floor"]
        else:
            plan.bounds["floor"] = bound
    # Pairs whose demand alone kept the greedy value (not proven exact in its time).
    plan.objectives["demand_unproven"] = len(prep.demand_unproven)
    return plan


def _solve_cpsat(
    prep: Prepared,
    *,
    time_limit: float = 10.0,
    workers: int = 2,
    seed: int = 0,
    started: float | None = None,
    block_max: int | None = None,
) -> Plan:
    """The CP-SAT plan (solved part by part, see :mod:`scheduler.decompose`), or the greedy
    fair plan if CP-SAT finds nothing in time."""
    t0 = time.perf_counter() if started is None else started
    budget = Budget.start(time_limit, workers=workers, seed=seed, started=t0)
    tl, facts = plan_parts(prep, budget, block_max=block_max or BLOCK_MAX)
    return make_plan(
        prep,
        tl,
        status=facts.status,
        planner="cpsat",
        started=t0,
        objectives=facts.objectives,
        bounds=facts.bounds,
        stages=facts.stage_dicts(),
    )
