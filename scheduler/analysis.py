"""Static facts about a problem, computed once and shared by every planner and the validator.

For each request and candidate resource: the set of allowed start slots, i.e. starts where the
booking lies in the request's window, in the resource's open periods, outside maintenance and
(if the resource needs one) inside a valid training of the user. Requests with no allowed start
anywhere get a static reason and are never granted. Also here: effective demand, capacity per
class and entitlements, which define the fairness contract (see :mod:`scheduler.fairness`).
"""

from __future__ import annotations

from collections.abc import Collection, Mapping

from scheduler.demand import DEMAND_BUDGET, asked_demand, attainable_demand
from scheduler.facts import EXACT_CHANGEOVER_LIMIT, Prepared, Ranges
from scheduler.intervals import intersect
from scheduler.problem import (
    DIMENSIONS,
    DOMINANT_SHARE,
    GPU_NODE,
    PILOT_LINE,
    Problem,
    Resource,
    check_problem,
)
from scheduler.timeline import Timeline

__all__ = ["EXACT_CHANGEOVER_LIMIT", "Prepared", "Ranges", "prepare"]


def _clip(periods, lo: int, hi: int) -> list[tuple[int, int]]:
    out = []
    for a, b in sorted(periods):
        a, b = max(a, lo), min(b, hi)
        if a < b:
            if out and a <= out[-1][1]:
                out[-1] = (out[-1][0], max(out[-1][1], b))
            else:
                out.append((a, b))
    return out


def _subtract(periods: list[tuple[int, int]], blocks) -> list[tuple[int, int]]:
    blocks = _clip(
        blocks, min((a for a, _ in periods), default=0), max((b for _, b in periods), default=0)
    )
    out = []
    for a, b in periods:
        cur = a
        for x, y in blocks:
            if y <= cur or x >= b:
                continue
            if x > cur:
                out.append((cur, x))
            cur = max(cur, y)
        if cur < b:
            out.append((cur, b))
    return out


def free_periods(resource: Resource, horizon: int) -> list[tuple[int, int]]:
    """Periods in ``[0, horizon)`` when the resource is open and not in maintenance."""
    opened = [(0, horizon)] if resource.open_periods is None else resource.open_periods
    return _subtract(_clip(opened, 0, horizon), resource.maintenance)


def _starts(periods: list[tuple[int, int]], duration: int) -> Ranges:
    return [(a, b - duration) for a, b in periods if b - a >= duration]


def on_grid(ranges: Ranges, step: int, offset: int) -> Ranges:
    """The starts of ``ranges`` that lie on a grid of ``step`` slots from ``offset``."""
    out: Ranges = []
    for lo, hi in ranges:
        first = lo + (offset - lo) % step
        out.extend((s, s) for s in range(first, hi + 1, step))
    return out


def ranges_contain(ranges: Ranges, s: int) -> bool:
    return any(lo <= s <= hi for lo, hi in ranges)


def training_periods(problem: Problem, user: str, training: str) -> list[tuple[int, int]]:
    index = problem._index.get("trainings")
    if index is None:
        index = {}
        for t in problem.trainings:
            index.setdefault((t.user, t.training), []).append((t.valid_from, t.valid_until))
        index = {k: _clip(v, -(10**9), 10**9) for k, v in index.items()}
        problem._index["trainings"] = index
    return index.get((user, training), [])


def _count_cover(ranges_per_node: list[Ranges], need: int) -> Ranges:
    """Start ranges covered by at least ``need`` of the per-node range lists."""
    events: dict[int, int] = {}
    for ranges in ranges_per_node:
        for lo, hi in ranges:
            events[lo] = events.get(lo, 0) + 1
            events[hi + 1] = events.get(hi + 1, 0) - 1
    out: Ranges = []
    level, open_at = 0, None
    for x in sorted(events):
        level += events[x]
        if level >= need and open_at is None:
            open_at = x
        elif level < need and open_at is not None:
            out.append((open_at, x - 1))
            open_at = None
    return out


def prepare(
    problem: Problem,
    *,
    check: bool = True,
    excluded: Mapping[str, tuple[str, dict]] | None = None,
    demand_of: Collection[str] | None = None,
    check_chains: bool = True,
    demand_seconds: float = DEMAND_BUDGET,
) -> Prepared:
    """Check the problem (raising :class:`ProblemError`) and compute its static facts.

    ``excluded``: requests decided before planning (request id -> reason code and params), e.g.
    refused for good earlier in the round; they are never granted and, as any step that cannot
    be placed, take their whole chain with them. ``demand_of``: the tenants whose demand alone
    is computed (default: all); the others' demand is what they ask, capped by their quota (an
    upper bound: a re-plan that plans a few tenants' requests needs only theirs).
    ``check_chains=False`` skips refusing up front the chains that cannot be placed even in an
    empty round (a re-plan's model finds that out for the few chains it holds).
    ``demand_seconds``: time for solving demand alone exactly (see
    :func:`scheduler.demand.attainable_demand`)."""
    if check:
        check_problem(problem)
    prep = Prepared(problem)
    H = problem.horizon
    res = problem.resource_by_id
    for r in problem.resources:
        prep.free[r.id] = free_periods(r, H)
        slots = sum(b - a for a, b in prep.free[r.id])
        prep.capacity[r.resource_class] = (
            prep.capacity.get(r.resource_class, 0) + slots * r.capacity
        )
        if problem.measure(r.resource_class) == DOMINANT_SHARE:
            caps = prep.dominant.setdefault(r.resource_class, {"gpus": 0})
            caps["gpus"] += slots * r.capacity
            for dim in DIMENSIONS:
                if getattr(r, dim):
                    caps[dim] = caps.get(dim, 0) + slots * getattr(r, dim)
        if r.kind == PILOT_LINE:
            for recipe in r.recipes:
                prep.worst_changeover_in[(r.id, recipe)] = max(
                    (t for a, b, t in r.changeovers if b == recipe and a != recipe), default=0
                )

    tenants = problem.tenant_by_id
    free_key = {rid: tuple(p) for rid, p in prep.free.items()}
    grids = {r.id: problem.grid(r) for r in problem.resources}
    memo: dict[tuple, tuple[Ranges, bool]] = {}
    for q in problem.requests:
        prep.klass[q.id] = res[q.resources[0]].resource_class
        per_res: dict[str, Ranges] = {}
        training_blocked = min_run_blocked = off_grid = 0
        window = [(q.earliest, q.deadline)]
        for rid in q.resources:
            r = res[rid]
            if r.min_run and q.duration < r.min_run:
                min_run_blocked += 1
                continue
            step, offset = grids[rid]
            if q.duration % step:
                off_grid += 1  # it could not end on the resource's grid
                continue
            need = r.required_training
            key = (free_key[rid], q.earliest, q.deadline, q.duration, need and q.user, need)
            key += (step, offset)
            if key not in memo:
                periods = intersect(prep.free[rid], window)
                starts = _starts(periods, q.duration)
                blocked = False
                if starts and r.required_training:
                    valid = training_periods(problem, q.user, r.required_training)
                    starts = _starts(intersect(periods, valid), q.duration)
                    blocked = not starts
                if step > 1:
                    starts = on_grid(starts, step, offset)
                memo[key] = (starts, blocked)
            starts, blocked = memo[key]
            training_blocked += blocked
            if starts:
                per_res[rid] = list(starts)
        prep.starts[q.id] = per_res
        quota = tenants[q.tenant].quota(prep.klass[q.id])
        if q.nodes > 1:
            prep.gang_starts[q.id] = _count_cover(list(per_res.values()), q.nodes)
        if not per_res or (q.nodes > 1 and not prep.gang_starts[q.id]):
            if training_blocked:
                prep.static_reason[q.id] = ("no_valid_training", {})
            elif min_run_blocked == len(q.resources):
                prep.static_reason[q.id] = ("below_min_run", {})
            elif off_grid:
                # (no start on the candidates' time grids: a code of its own once the booking
                # side has words for it)
                prep.static_reason[q.id] = ("no_feasible_start", {"off_grid": True})
            else:
                prep.static_reason[q.id] = ("no_feasible_start", {})
        elif quota is not None and q.usage > quota:
            prep.static_reason[q.id] = ("quota_exhausted", {"quota": quota})
        if excluded and q.id in excluded:
            prep.static_reason[q.id] = excluded[q.id]
        if q.chain is not None:
            prep.chains.setdefault(q.chain, []).append(q)

    for cid, members in prep.chains.items():
        members.sort(key=lambda m: m.chain_step)
        if len(members) < 2:
            continue
        bad = [m.id for m in members if m.id in prep.static_reason]
        if bad:
            for m in members:
                if m.id not in prep.static_reason:
                    prep.static_reason[m.id] = ("chain_unplaceable", {"chain": cid, "step": bad[0]})

    runs: dict[str, int] = {}
    for q in problem.requests:
        if q.id in prep.static_reason:
            continue
        for rid in prep.starts[q.id]:
            if res[rid].kind == PILOT_LINE:
                runs[rid] = runs.get(rid, 0) + 1
    for r in problem.resources:
        if r.kind == PILOT_LINE and r.changeovers:
            n = runs.get(r.id, 0)
            prep.changeover_mode[r.id] = "exact" if n <= EXACT_CHANGEOVER_LIMIT else "reserve"
    if check_chains:
        _drop_impossible_chains(prep)
    prep.demand = attainable_demand(prep, demand_of, seconds=demand_seconds)
    if demand_of is not None:
        for (t, c), asked in asked_demand(prep).items():
            if t not in demand_of:
                quota = tenants[t].quota(c)
                prep.demand[(t, c)] = asked if quota is None else min(asked, quota)
    # Weights are normalised over the tenants that want something in the class, so a tenant
    # with no demand neither gains nor dilutes anyone's entitlement.
    weight_sum: dict[str, float] = {}
    for (t, c), d in prep.demand.items():
        if d > 0:
            weight_sum[c] = weight_sum.get(c, 0.0) + tenants[t].weight
    for (t, c), d in prep.demand.items():
        if d > 0:
            prep.weight_share[(t, c)] = tenants[t].weight / weight_sum[c]
            prep.entitlement[(t, c)] = prep.weight_share[(t, c)] * prep.capacity[c]

    return prep


def _drop_impossible_chains(prep: Prepared) -> None:
    """A chain whose steps cannot be placed together even in an empty round is refused."""

    for cid, members in prep.chains.items():
        if len(members) < 2 or any(m.id in prep.static_reason for m in members):
            continue
        if not Timeline(prep).place_unit(members, quotas=False, tries=500):
            for m in members:
                prep.static_reason[m.id] = ("chain_unplaceable", {"chain": cid})


def is_gpu(resource: Resource) -> bool:
    return resource.kind == GPU_NODE
