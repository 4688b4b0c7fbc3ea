"""The CP-SAT planner's staged solve (the model builders are in :mod:`scheduler.model`).

The solve is lexicographic (see ``scheduler.fairness.FAIRNESS_CONTRACT``):
stage 1 maximises the fair level z; stage 2 fixes z and maximises granted usage; stage 3 (when
time is left) fixes both and maximises priority and earliness. Each stage is hinted with the
previous stage's solution, the first one with the complete greedy fair plan; each stops as soon as
it is proven optimal (its time is a ceiling).

Changeovers are always exact: a model re-plans at most ``EXACT_CHANGEOVER_LIMIT`` runs per line
(worst-served tenants first) and the other runs stay fixed (:func:`exact_subset`). A floor bound
is reported only from a model of the whole round; otherwise it comes from a relaxation
(:func:`scheduler.bounds.relaxed_bound`).
"""

from __future__ import annotations

import math
import time
from collections.abc import Collection

from ortools.sat.python import cp_model

from scheduler.analysis import EXACT_CHANGEOVER_LIMIT, Prepared
from scheduler.fairness import fair_level, share_of
from scheduler.greedy import greedy_placements
from scheduler.model import (
    STATUS,
    Z_SCALE,
    _solver,
    add_fair_level,
    build,
    hint_from_solution,
    hint_from_timeline,
    hold_level,
    model_level,
    pair_level,
    preference_expr,
    usage_expr,
)
from scheduler.problem import PILOT_LINE
from scheduler.timeline import Timeline

__all__ = ["Z_SCALE", "exact_subset", "solve_prepared"]
STAGE1_SHARE = 0.3  # of the time left, for the floor
STAGE1_LEVELS_SHARE = 0.5  # of the time left, for the floor and the further leximin levels
# Of the time left, at most, for the floor stage of a large model holding the round's floor.
BIG_FLOOR_SHARE = 0.4
LARGE_LEVELS_SHARE = 0.35  # of the time left, for the floor and the next level of a large model


def exact_subset(
    prep: Prepared,
    only: set[str] | None,
    order: list[str] | None = None,
    placed: Collection[str] = (),
) -> set[str] | None:
    """The requests of ``only`` (default: all) that one exact model can re-plan.

    A circuit per line is exact but grows with the square of its runs, and a worst-case reserve
    is not exact. So no line may carry more than ``EXACT_CHANGEOVER_LIMIT`` planned runs: the
    requests beyond it (all of them, or the last ones in ``order``) stay where they are, whole
    chains together. With an ``order``, the runs ``placed`` on a busy line come first (then the
    others in ``order``): runs held fixed where an earlier plan put them would fill the line and
    leave the worst-served tenants nothing to gain, so the model may move or free them.
    Returns ``None`` when nothing had to be left out of a whole-round model."""
    res = prep.problem.resource_by_id
    reqs = prep.problem.request_by_id
    ids = (
        {q.id for q in prep.problem.requests if prep.eligible(q.id)}
        if only is None
        else {q for q in only if prep.eligible(q)}
    )
    count: dict[str, list[str]] = {}
    for qid in ids:
        for rid in prep.starts[qid]:
            r = res[rid]
            if r.kind == PILOT_LINE and r.changeovers:
                count.setdefault(rid, []).append(qid)
    over = {rid for rid, qs in count.items() if len(qs) > EXACT_CHANGEOVER_LIMIT}
    if not over:
        return only
    rank = {q: i for i, q in enumerate(order or ())}
    placed = set(placed)
    drop: set[str] = set()
    for rid in sorted(over):
        qs = sorted(
            (q for q in count[rid] if q not in drop),
            key=lambda q: (q not in placed, rank.get(q, len(rank)), q),
        )
        keep = EXACT_CHANGEOVER_LIMIT if order else 0
        # (a request kept here may still be dropped for another of its lines)
        drop.update(qs[keep:])
    for qid in list(drop):
        chain = reqs[qid].chain
        if chain is not None:
            drop.update(m.id for m in prep.chains.get(chain, ()))
    return ids - drop


def solve_prepared(
    prep: Prepared,
    *,
    time_limit: float = 10.0,
    workers: int = 2,
    seed: int = 0,
    started: float | None = None,
    current: Timeline | None = None,
    only: set[str] | None = None,
    stage3: bool = True,
    max_levels: int = 3,
    order: list[str] | None = None,
    floor_only: bool = False,
    floor_proven: bool = False,
    hold_usage: bool = False,
    placed_first: bool = True,
) -> tuple[Timeline, dict]:
    """Solve the staged model; returns the whole plan's placements and the solve facts.

    ``current``: a complete feasible plan (default: the greedy fair plan), used as hint and as
    the answer if CP-SAT finds nothing. ``only``: re-plan just these requests, everything else in
    ``current`` stays where it is (decomposition). Lines with too many runs for an exact model
    are left as they are (:func:`exact_subset`; ``order``: which requests to keep first, an
    empty one keeps all their runs fixed). ``floor_only``: just the floor stage, with all the
    time. ``floor_proven``: the round's floor in ``current`` meets a proven bound (the floor
    stage is skipped when this model holds it). ``hold_usage``: no tenant and class gets fewer
    hours than in ``current`` (every leximin level is kept). ``placed_first``: on a busy line
    the runs placed in ``current`` enter the model before waiting ones (else ``order`` alone
    decides, :func:`scheduler.starts.free_order`). A bound on the floor is reported
    only when the model was the whole round."""
    t0 = time.perf_counter() if started is None else started
    # Keep a little time for writing the reasons and figures of the plan.
    deadline = t0 + time_limit * 0.97 - 0.1
    current = current if current is not None else greedy_placements(prep)
    fill_only = only
    if order is None:
        # The worst-served pairs' requests first (those not granted yet before the others).
        reqs = prep.problem.request_by_id

        def share(qid: str) -> float:
            q = reqs[qid]
            key = (q.tenant, prep.klass[qid])
            have = current.usage.get(key, 0)
            if key not in prep.entitlement or have >= prep.demand.get(key, 0):
                return math.inf
            return share_of(prep, key, current)

        # A tenant's requests rank with its worst-served pair: a chain links its classes, and
        # a quota may need one of its requests out for another in (possibly of another class).
        tenant_worst: dict[str, float] = {}
        for q in prep.problem.requests:
            if prep.eligible(q.id):
                tenant_worst[q.tenant] = min(tenant_worst.get(q.tenant, math.inf), share(q.id))

        def rank(qid: str) -> tuple:
            return (tenant_worst[reqs[qid].tenant], share(qid), qid in current.placed, qid)

        pool = only if only is not None else [q.id for q in prep.problem.requests]
        order = sorted((q for q in pool if prep.eligible(q)), key=rank)
    planned = exact_subset(prep, only, order, placed=current.placed if placed_first else ())
    complete = planned is None  # the whole round in one exact model: its bounds are proven
    only = planned
    if only is None:
        base, outside, fixed = Timeline(prep), {}, None
        outside_dims: dict = {}
    else:
        base = current.clone()
        reqs = prep.problem.request_by_id
        for qid in only:
            if qid in base.placed:
                base.remove(reqs[qid])
        outside, fixed = dict(base.usage), base
        outside_dims = dict(base.dims)
    model, v = build(prep, outside, only, fixed, outside_dims=outside_dims)
    if hold_usage:
        for key in v.granted:
            hold_level(model, prep, v, key, current, "_held")
    hint_from_timeline(model, prep, v, current, outside)
    facts: dict = {"stages": [], "objectives": {}, "bounds": {}, "status": "greedy_fallback"}
    if not v.g:
        facts["status"] = "optimal"
        return current, facts

    def solution(solver: cp_model.CpSolver) -> Timeline:
        # The solution's placements, plus anything that still fits (never removing any).
        tl = base.clone()
        for qid, g in v.g.items():
            if solver.Value(g):
                rids = tuple(rid for rid in prep.starts[qid] if solver.Value(v.x[qid, rid]))
                tl.place(prep.problem.request_by_id[qid], rids, solver.Value(v.s[qid]))
        return greedy_placements(prep, tl, only=fill_only)

    def run(name: str, share: float):
        left = deadline - time.perf_counter()
        solver = _solver(left * share, workers, seed, len(v.g))
        t = time.perf_counter()
        code = solver.Solve(model)
        st = STATUS.get(code, str(code))
        info = {"stage": name, "status": st, "seconds": round(time.perf_counter() - t, 3)}
        if code in (cp_model.OPTIMAL, cp_model.FEASIBLE):
            info["objective"] = solver.ObjectiveValue()
            info["bound"] = solver.BestObjectiveBound()
        facts["stages"].append(info)
        return solver, code

    def level_of(tl: Timeline, terms: dict) -> int:
        return model_level(prep, tl, terms)

    ok = (cp_model.OPTIMAL, cp_model.FEASIBLE)
    best = current  # the best complete plan so far (a hint is always complete and feasible)
    proven: list[bool] = []
    found = False  # did any CP-SAT stage return a solution?

    # Stage 1: fairness floor, then (time permitting) further leximin levels: the pairs sitting
    # at the floor keep at least what they have and the next level is raised for the others.
    model.Maximize(v.z)
    # The hint reaches its own level, so the optimum does too: saying so lets the solver fix the
    # pairs that must be served in full at once (the hint stays a solution).
    model.Add(v.z >= level_of(best, v.fair_terms))
    if len(v.g) > 1000:
        # Large parts: the improved hint already carries most of the floor; leave the bulk of
        # the time to granting more hours.
        stage3, max_levels = False, min(max_levels, 2)
    f1, fl = (STAGE1_SHARE, STAGE1_LEVELS_SHARE) if len(v.g) <= 1000 else (0.25, LARGE_LEVELS_SHARE)
    if len(v.g) > 1000 and level_of(best, v.fair_terms) <= fair_level(prep, best) * Z_SCALE + 1:
        # This model holds the round's worst-served pair: its floor stage is the round's floor
        # and usually ends, proven optimal, a little before its usual share; a slow run gets
        # more time (the later stages get less only then).
        f1 = BIG_FLOOR_SHARE
    if floor_only:
        f1 = 0.97
    stage1_end = time.perf_counter() + (deadline - time.perf_counter()) * fl
    if floor_proven and level_of(best, v.fair_terms) <= fair_level(prep, best) * Z_SCALE + 1:
        # The plan's floor already meets a proven bound and this model holds it: nothing to do.
        facts["stages"].append({"stage": "floor", "status": "optimal", "seconds": 0.0})
        proven.append(True)
    else:
        solver, code = run("floor", f1)
        if code in ok:
            found = True
            # A solve cut short (a busy machine, the hint not loaded yet) may return a plan less
            # fair than its hint: the floor never goes down.
            new = solution(solver)
            if level_of(new, v.fair_terms) >= level_of(best, v.fair_terms):
                best = new
            if complete:
                facts["bounds"]["floor"] = (solver.BestObjectiveBound() + 1) / Z_SCALE
        proven.append(code == cp_model.OPTIMAL)
    z1 = level_of(best, v.fair_terms)
    facts["objectives"]["floor_model"] = z1 / Z_SCALE
    if floor_only:
        facts["status"] = "optimal" if proven[0] else ("feasible" if found else "greedy_fallback")
        return best, facts
    model.Add(v.z >= z1)
    levels = [z1]
    while len(levels) < max_levels and stage1_end - time.perf_counter() > 0.05 * time_limit:
        z_now = levels[-1]
        open_keys = []
        for key, term in v.levels[-1][1].items():
            level = pair_level(prep, key, term, best)
            if level is not None and level <= z_now:
                hold_level(model, prep, v, key, best, f"_frozen{len(levels)}")  # at its level
            else:
                open_keys.append(key)
        if not open_keys:
            break
        z_next = add_fair_level(model, prep, v, open_keys)
        model.Add(z_next >= z_now)
        model.Maximize(z_next)
        hint_from_timeline(model, prep, v, best, outside)
        share = (stage1_end - time.perf_counter()) / (deadline - time.perf_counter())
        solver, code = run(f"floor_level_{len(levels) + 1}", share)
        if code in ok:
            found = True
            # A level stage cut short at its hint's level may return a plan with fewer hours:
            # the hint is kept then (it holds the same levels).
            new, terms = solution(solver), v.levels[-1][1]
            if level_of(new, terms) > level_of(best, terms) or sum(new.usage.values()) >= sum(
                best.usage.values()
            ):
                best = new
        zk = level_of(best, v.levels[-1][1])
        model.Add(z_next >= zk)
        levels.append(zk)
    facts["objectives"]["floor_levels"] = [z / Z_SCALE for z in levels]

    # Stage 2: granted usage with the floor held. The hint is the best plan so far with every
    # request that still fits added (which can only raise each tenant's share).
    usage = usage_expr(prep, v)
    model.Maximize(usage)
    hint_from_timeline(model, prep, v, best, outside)
    solver, code = run("usage", 0.75 if stage3 else 0.97)
    proven.append(code == cp_model.OPTIMAL)
    if code in ok:
        found = True
        # Likewise a usage stage cut short may return fewer hours than its hint (which holds
        # the same levels): the hint is kept then.
        new = solution(solver)
        took = sum(new.usage.values()) >= sum(best.usage.values())
        if took:
            best = new
        facts["bounds"]["granted_usage"] = solver.BestObjectiveBound()
        # Stage 3: priority and earliness with floor and usage held.
        if took and stage3 and deadline - time.perf_counter() > 0.1 * time_limit:
            model.Add(usage >= solver.Value(usage))
            model.Maximize(preference_expr(prep, v))
            hint_from_solution(model, v, solver)
            solver, code = run("preference", 0.97)
            proven.append(code == cp_model.OPTIMAL)
            if code in ok:
                best = solution(solver)
                facts["objectives"]["preference"] = solver.ObjectiveValue()
    facts["status"] = "optimal" if all(proven) else ("feasible" if found else "greedy_fallback")
    if fill_only is None and not complete and facts["status"] == "optimal":
        facts["status"] = "feasible"  # optimal only with the busy lines' runs held fixed
    return best, facts
