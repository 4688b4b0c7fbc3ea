"""Demand alone: the most each tenant could be granted in each class if it were alone in the
round (the fairness contract's demand), and what it asks at all."""

from __future__ import annotations

import time
from collections.abc import Collection

from ortools.sat.python import cp_model

from scheduler.facts import Prepared
from scheduler.model import _solver, build, hint_from_timeline
from scheduler.problem import Request
from scheduler.timeline import Timeline

# Seconds at most per tenant and class whose greedy demand alone may be short of the truth, and
# in all for a round unless told otherwise (``prepare(..., demand_seconds=...)``).
DEMAND_SECONDS = 0.5
DEMAND_BUDGET = 2.0


def _best_subset(items: list[tuple[int, str]], cap: int) -> tuple[int, list[str]]:
    """A subset of ``(value, id)`` items with the largest total not above ``cap``; among those,
    earlier items are preferred. Returns the total and the chosen ids."""
    values = [v for v, _ in items]
    if sum(values) <= cap:
        return sum(values), [i for _, i in items]
    mask = (1 << (cap + 1)) - 1
    suffix = [1] * (len(items) + 1)  # sums reachable with items[i:]
    for i in range(len(items) - 1, -1, -1):
        suffix[i] = (suffix[i + 1] | (suffix[i + 1] << values[i])) & mask
    target = suffix[0].bit_length() - 1
    total, chosen = target, []
    for i, (v, qid) in enumerate(items):
        if v <= target and (suffix[i + 1] >> (target - v)) & 1:
            chosen.append(qid)
            target -= v
    return total, chosen


def asked_demand(prep: Prepared) -> dict[tuple[str, str], int]:
    """Usage asked per tenant and class by the requests that can be granted at all."""
    out: dict[tuple[str, str], int] = {}
    for q in prep.problem.requests:
        if q.id not in prep.static_reason:
            key = (q.tenant, prep.klass[q.id])
            out[key] = out.get(key, 0) + q.usage
    return out


def refine_demand(prep: Prepared, tenants: Collection[str]) -> None:
    """Compute the demand alone of ``tenants`` (after a ``prepare(..., demand_of=...)`` that
    left them out); entitlements do not change (they depend only on who asks)."""
    exact = attainable_demand(prep, tenants)
    for key in [k for k in prep.demand if k[0] in tenants]:
        prep.demand[key] = exact.get(key, 0)


def attainable_demand(
    prep: Prepared, only: Collection[str] | None = None, *, seconds: float = DEMAND_BUDGET
) -> dict[tuple[str, str], int]:
    """Demand per tenant and class: the most the tenant could be granted if it were alone.

    Its eligible requests are first placed one by one (most important first, earliest start) in
    an otherwise empty round, chains as a whole, and the total capped by the largest sum of them
    that fits the quota. Where that is below the largest sum of all its requests the quota
    allows (something did not fit next to its own requests), the tenant alone is solved with
    CP-SAT, class by class: the demand is the proven optimum (or the best plan found, if better
    than the greedy one, when the solve is cut short). Requests are indivisible, so
    "min(demand, quota)" could be unreachable; this keeps the fairness floor from being dragged
    down by demand nobody could ever meet, and from counting as met demand that could be.
    ``seconds``: the time for those solves in all; a pair not solved in it keeps its greedy
    demand, and ``prep.demand_unproven`` names the pairs whose demand is not proven exact."""
    stop = time.perf_counter() + seconds

    problem = prep.problem
    tenants = problem.tenant_by_id
    order = {q.id: i for i, q in enumerate(problem.requests)}
    units: dict[str, list[list[Request]]] = {}
    seen: set[str] = set()
    for q in problem.requests:
        if q.id in prep.static_reason or (only is not None and q.tenant not in only):
            continue
        if q.chain is not None and len(prep.chains.get(q.chain, ())) > 1:
            if q.chain in seen:
                continue
            seen.add(q.chain)
            units.setdefault(q.tenant, []).append(list(prep.chains[q.chain]))
        else:
            units.setdefault(q.tenant, []).append([q])
    out: dict[tuple[str, str], int] = {}
    for t, tunits in units.items():
        tunits.sort(key=lambda u: (-u[0].priority, u[0].deadline, u[0].earliest, order[u[0].id]))
        tl = Timeline(prep)
        placed: dict[str, list[tuple[int, str]]] = {}
        for unit in tunits:
            if tl.place_unit(unit, quotas=False):
                for q in unit:
                    placed.setdefault(prep.klass[q.id], []).append((q.usage, q.id))
        asked: dict[str, list[tuple[int, str]]] = {}
        for unit in tunits:
            for q in unit:
                asked.setdefault(prep.klass[q.id], []).append((q.usage, q.id))
        for c, items in asked.items():
            quota = tenants[t].quota(c)
            cap = sum(v for v, _ in items) if quota is None else quota
            total, chosen = _best_subset(placed.get(c, []), cap)
            if total < _best_subset(items, cap)[0]:
                left = stop - time.perf_counter()
                proven = False
                if left > 0.01:
                    total, chosen, proven = _solve_alone(
                        prep, tunits, c, tl, total, chosen, min(DEMAND_SECONDS, left)
                    )
                if not proven:
                    prep.demand_unproven.add((t, c))
            if total > 0:
                out[(t, c)] = total
                prep.demand_set[(t, c)] = frozenset(chosen)
    return out


def _solve_alone(
    prep: Prepared,
    units: list[list[Request]],
    klass: str,
    greedy: Timeline,
    total: int,
    chosen: list[str],
    seconds: float,
) -> tuple[int, list[str], bool]:
    """The most a tenant alone gets in ``klass``: CP-SAT over its own requests (quotas and every
    hard rule held), hinted with the greedy placement; keeps the greedy answer if not beaten.
    The flag tells whether the answer is proven."""
    ids = {q.id for unit in units for q in unit}
    model, v = build(prep, {}, ids, None)
    reqs = prep.problem.request_by_id
    terms = [(reqs[qid].usage, g) for qid, g in v.g.items() if prep.klass[qid] == klass]
    model.Maximize(sum(u * g for u, g in terms))
    hint_from_timeline(model, prep, v, greedy)
    solver = _solver(seconds, 1, 0, len(v.g))
    code = solver.Solve(model)
    proven = code == cp_model.OPTIMAL
    if code in (cp_model.OPTIMAL, cp_model.FEASIBLE):
        best = round(solver.ObjectiveValue())
        if best > total:
            return (
                best,
                [qid for qid, g in v.g.items() if prep.klass[qid] == klass and solver.Value(g)],
                proven,
            )
    return total, chosen, proven
