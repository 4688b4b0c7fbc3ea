"""Proven upper bounds on the fairness floor, and whether a plan's floor meets one."""

from __future__ import annotations

import math
import time

from ortools.sat.python import cp_model

from scheduler.analysis import Prepared
from scheduler.fairness import fair_level, share_of
from scheduler.model import (
    Z_SCALE,
    _solver,
    build,
    hint_from_solution,
    hint_from_timeline,
    model_level,
)
from scheduler.problem import Request
from scheduler.timeline import Timeline, add_dims


def meets(prep: Prepared, tl: Timeline, bound: float | None) -> bool:
    """Does the plan's floor reach the proven ``bound`` (as reported: level + 1 step)?"""

    if bound is None:
        return False
    return math.floor(fair_level(prep, tl) * Z_SCALE + 1e-6) >= round(bound * Z_SCALE) - 1


def holds_floor(prep: Prepared, tl: Timeline, ids: set[str] | None) -> bool:
    """Is one of the round's worst-served pairs (below their demand) among ``ids``?"""
    reqs = prep.problem.request_by_id
    pool = (q.id for q in prep.problem.requests) if ids is None else ids
    keys = {(reqs[q].tenant, prep.klass[q]) for q in pool if prep.eligible(q)}
    floor = fair_level(prep, tl)
    return any(
        k in prep.entitlement
        and tl.usage.get(k, 0) < prep.demand[k]
        and share_of(prep, k, tl) <= floor + 1e-9
        for k in keys
    )


def relaxed_bound(
    prep: Prepared,
    current: Timeline,
    ids: set[str] | None,
    *,
    deadline: float,
    workers: int,
    seed: int,
) -> float | None:
    """A proven upper bound on the floor of the requests ``ids`` (a whole independent part, or
    the round when ``None``): the part's model without changeovers (every plan of the part is a
    plan of it), told that the fair level is at least the one ``current`` reaches (true of its
    optimum, and it lets the solver fix the tenants that must be served in full)."""

    if deadline - time.perf_counter() < 0.05:
        return None
    model, v = build(prep, {}, ids, None, relax_changeovers=True)
    if not v.g:
        return None
    model.Add(v.z >= model_level(prep, current, v.fair_terms))
    model.Maximize(v.z)
    hint_from_timeline(model, prep, v, current)
    ok = (cp_model.OPTIMAL, cp_model.FEASIBLE)
    solver = _solver((deadline - time.perf_counter()) / 2, workers, seed, len(v.g))
    code = solver.Solve(model)
    if code not in ok:
        return None  # without a solution CP-SAT reports no meaningful bound
    bound = solver.BestObjectiveBound()
    best = solver.Value(v.z)
    if code == cp_model.FEASIBLE and deadline - time.perf_counter() > 0.05:
        # The relaxation's own best level is as true a lower limit on its optimum: with it the
        # bound usually follows at once.
        hint_from_solution(model, v, solver)
        model.Add(v.z >= best)
        solver = _solver(deadline - time.perf_counter(), workers, seed, len(v.g))
        if solver.Solve(model) in ok:
            bound = min(bound, solver.BestObjectiveBound())
    return (bound + 1) / Z_SCALE


def neighbourhood_bound(
    prep: Prepared,
    current: Timeline,
    *,
    deadline: float,
    workers: int,
    seed: int,
    pairs: int = 3,
    size: int = 300,
) -> float | None:
    """A proven upper bound on the round's floor from small relaxations.

    For one of the worst-served pairs, keep only its requests and the requests competing for
    its candidate resources around its windows; every other request is dropped and counted as
    if it were granted (for fair shares) and as using nothing (for quotas and capacity). Any
    plan of the round gives a plan of this relaxation with at least the same fair level, so
    the relaxation's optimum (or CP-SAT's bound on it) bounds the round's floor from above.
    """

    reqs = prep.problem.request_by_id
    total: dict[tuple[str, str], int] = {}
    total_dims: dict[tuple[str, str], tuple[int, ...]] = {}
    by_pair: dict[tuple[str, str], list[Request]] = {}
    for q in prep.problem.requests:
        if prep.eligible(q.id):
            key = (q.tenant, prep.klass[q.id])
            total[key] = total.get(key, 0) + q.usage
            total_dims[key] = add_dims(total_dims.get(key), q, 1)
            by_pair.setdefault(key, []).append(q)
    chain_of = prep.chain_of()
    on: dict[str, list[Request]] = {}
    for q in prep.problem.requests:
        if prep.eligible(q.id):
            for rid in prep.starts[q.id]:
                on.setdefault(rid, []).append(q)
    worst = sorted(
        (k for k in prep.entitlement if current.usage.get(k, 0) < prep.demand[k]),
        key=lambda k: (share_of(prep, k, current), k),
    )[:pairs]
    best: float | None = None
    for n, key in enumerate(worst):
        left = deadline - time.perf_counter()
        if left < 0.2:
            break
        hood: set[str] = set()
        for q in by_pair[key]:
            hood.update(m.id for m in chain_of.get(q.id, [q]))
        near = []
        for q in by_pair[key]:
            for rid in prep.starts[q.id]:
                for o in on.get(rid, ()):
                    if o.earliest < q.deadline and q.earliest < o.deadline:
                        near.append((abs(o.earliest - q.earliest), o.id))
        for _d, oid in sorted(set(near)):
            if len(hood) >= size:
                break
            hood.update(m.id for m in chain_of.get(oid, [reqs[oid]]))
        inside: dict[tuple[str, str], int] = {}
        dims = dict(total_dims)
        for qid in hood:
            k = (reqs[qid].tenant, prep.klass[qid])
            inside[k] = inside.get(k, 0) + reqs[qid].usage
            dims[k] = add_dims(dims[k], reqs[qid], -1)
        optimistic = {k: total[k] - inside.get(k, 0) for k in total}
        model, v = build(
            prep,
            optimistic,
            hood,
            None,
            quota_outside={},
            relax_changeovers=True,
            outside_dims=dims,
        )
        # The current plan's placements in the neighbourhood are a solution of the relaxation
        # at least as fair as the plan: telling the solver so lets it fix the pairs that must
        # be served in full, which is what makes the bound come quickly.
        model.Add(v.z >= model_level(prep, current, v.fair_terms))
        hint_from_timeline(model, prep, v, current, optimistic)
        model.Maximize(v.z)
        solver = _solver(left / (len(worst) - n), workers, seed, len(v.g))
        code = solver.Solve(model)
        if code == cp_model.OPTIMAL:
            z = (solver.Value(v.z) + 1) / Z_SCALE
        elif code == cp_model.FEASIBLE:
            z = (solver.BestObjectiveBound() + 1) / Z_SCALE
        else:
            continue  # without a solution CP-SAT reports no meaningful bound
        best = z if best is None else min(best, z)
    return best
