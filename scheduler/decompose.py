"""Splitting a round into parts that CP-SAT can solve in the time budget.

1. **Exact parts.** Requests are linked when they share a candidate resource, a chain, or a
   tenant-and-class pair (fair shares and quotas are counted per pair). Parts that share none of
   these are independent: the round's floor is the smallest of the parts' floors and every part
   can be solved alone, with nothing lost. A park's GPU class and its lines-plus-labs (linked by
   metrology chains) usually fall apart this way.
2. **Blocks of a large part** (more than ``BLOCK_MAX`` requests). The part is cut by resource
   group (pools sharing resources) and, inside a group, by time (window midpoint). Blocks are
   re-planned one at a time, lowest fair share first, everything else staying where the current
   plan put it (its load is fixed on the shared resources, its usage counted in the tenants'
   shares and quotas). Each block solve keeps the plan feasible and never lowers any tenant below
   the floor it already had, so the fairness floor is coordinated across blocks; it is a large
   neighbourhood search, so no global bound is claimed for such a part.
"""

from __future__ import annotations

import math
import random
import time

from scheduler.analysis import Prepared
from scheduler.fairness import fair_level
from scheduler.greedy import greedy_placements, improve_floor, units_of
from scheduler.problem import Request
from scheduler.timeline import Timeline

BLOCK_MAX = 2500
# Above this many requests even blocks are too slow on two cores: only neighbourhoods are solved.
NEIGHBOURHOODS_ONLY_ABOVE = 7500
BOUND_SHARE = 0.08  # of the time limit, for proving a bound on the floor of large rounds
LNS_SHARE = 0.4  # of the time limit, for raising the floor neighbourhood by neighbourhood
# A round small enough for one model: its floor stage does more than neighbourhoods, and its
# bound needs a little more time than a part's (measured on the 2,000-request benchmark).
SINGLE_LNS_SHARE = 0.2
SINGLE_BOUND_SHARE = 0.12
# How far a floor neighbourhood is widened before its pair is given up: rings of requests that
# could make way (a full instrument day may have to shift by one slot).
WIDEST = 3
# A model holding the round's floor with more requests than this first raises the floor with
# the busy lines held (at most this share of its time).
LIGHT_FLOOR_ABOVE = 1000
LIGHT_FLOOR_SHARE = 0.25
# Of the time of a one-model round whose floor is proven early, for hours in neighbourhoods.
SINGLE_HOURS_SHARE = 0.3
# A round of at most this many requests is first solved as one model with this share of the
# time; if every stage is proven, that is the answer.
QUICK_EXACT_MAX = 400
QUICK_EXACT_SHARE = 0.15


class _Sets:
    def __init__(self) -> None:
        self.parent: dict = {}

    def find(self, x):
        self.parent.setdefault(x, x)
        while self.parent[x] != x:
            self.parent[x] = self.parent[self.parent[x]]
            x = self.parent[x]
        return x

    def union(self, a, b) -> None:
        ra, rb = self.find(a), self.find(b)
        if ra != rb:
            self.parent[ra] = rb


def _groups(units: list[list[Request]], links) -> list[list[list[Request]]]:
    sets = _Sets()
    for unit in units:
        keys = [k for q in unit for k in links(q)]
        for k in keys[1:]:
            sets.union(keys[0], k)
    out: dict = {}
    for unit in units:
        out.setdefault(sets.find(next(iter(links(unit[0])))), []).append(unit)
    return list(out.values())


def exact_parts(prep: Prepared) -> list[list[list[Request]]]:
    """Independent parts (lists of placement units), largest first."""
    parts = _groups(
        units_of(prep),
        lambda q: [("r", rid) for rid in prep.starts[q.id]] + [("p", q.tenant, prep.klass[q.id])],
    )
    return sorted(parts, key=lambda p: -sum(len(u) for u in p))


def blocks_of(prep: Prepared, part: list[list[Request]], limit: int = BLOCK_MAX) -> list[set[str]]:
    """Cut a large part into blocks of at most about ``limit`` requests."""
    out: list[set[str]] = []
    for group in _groups(part, lambda q: [("r", rid) for rid in prep.starts[q.id]]):
        size = sum(len(u) for u in group)
        pieces = max(1, -(-size // limit))
        group.sort(key=lambda u: (u[0].earliest + u[0].deadline, u[0].id))
        per = -(-len(group) // pieces)
        for i in range(pieces):
            chunk = group[i * per : (i + 1) * per]
            if chunk:
                out.append({q.id for u in chunk for q in u})
    return out


def plan_parts(
    prep: Prepared,
    *,
    time_limit: float,
    workers: int,
    seed: int,
    started: float,
    block_max: int = BLOCK_MAX,
) -> tuple[Timeline, dict]:
    """Solve part by part (and block by block inside large parts); returns the placements and
    the solve facts (a floor bound only where every part was solved whole)."""
    from scheduler.cpsat import solve_prepared

    n_eligible = sum(1 for q in prep.problem.requests if prep.eligible(q.id))
    # Writing the reasons of a large plan takes a moment too.
    deadline = started + time_limit * 0.97 - 0.1 - 2.5 * n_eligible / 10_000
    current = greedy_placements(prep)
    # A better floor in the hint saves CP-SAT most of its first stage.
    improve_floor(prep, current, deadline=started + 0.05 * time_limit)
    if n_eligible > NEIGHBOURHOODS_ONLY_ABOVE:
        bound_time = BOUND_SHARE * time_limit
        current = floor_lns(
            prep, current, deadline=deadline - bound_time, workers=workers, seed=seed
        )
        facts = {"stages": [], "objectives": {}, "bounds": {}, "status": "feasible"}
        bound = neighbourhood_bound(prep, current, deadline=deadline, workers=workers, seed=seed)
        if bound is not None:
            facts["bounds"]["floor"] = bound
        return current, facts
    single = n_eligible <= block_max
    if n_eligible <= QUICK_EXACT_MAX:
        # A small round first gets one whole model: every stage stops once it is proven, so a
        # round that is easy answers at once instead of using its whole time limit.
        quick, qfacts = solve_prepared(
            prep,
            time_limit=QUICK_EXACT_SHARE * time_limit,
            workers=workers,
            seed=seed,
            current=current,
        )
        if qfacts["status"] == "optimal":
            return quick, qfacts
        if fair_level(prep, quick.usage) >= fair_level(prep, current.usage):
            current = quick
    current = floor_lns(
        prep,
        current,
        deadline=started + (SINGLE_LNS_SHARE if single else LNS_SHARE) * time_limit,
        workers=workers,
        seed=seed,
    )
    parts = exact_parts(prep)
    facts: dict = {"stages": [], "objectives": {}, "bounds": {}, "status": "optimal", "parts": 0}
    bound_at = deadline - (SINGLE_BOUND_SHARE if single else BOUND_SHARE) * time_limit
    if single:
        # Small enough for one model: CP-SAT shares its time over the parts better itself.
        current, light = _light_floor(
            prep, current, None, time_limit=time_limit, workers=workers, seed=seed
        )
        # A bound proven now that the floor meets saves the floor stage and the bound at the
        # end: the time goes to the next levels and to granted hours instead.
        early = relaxed_bound(
            prep,
            current,
            None,
            deadline=time.perf_counter() + SINGLE_BOUND_SHARE * time_limit,
            workers=workers,
            seed=seed,
        )
        known = early is not None and meets(prep, current, early)
        if known:
            # The floor is proven: small neighbourhoods re-planned for hours (the floor held)
            # give the whole model's later stages a fuller hint than its own search finds.
            current = hours_lns(
                prep,
                current,
                deadline=time.perf_counter() + SINGLE_HOURS_SHARE * time_limit,
                workers=workers,
                seed=seed,
            )
        current, facts = solve_prepared(
            prep,
            time_limit=((deadline if known else bound_at) + 0.1 - started) / 0.97,
            workers=workers,
            seed=seed,
            started=started,
            current=current,
            floor_proven=known,
        )
        facts["stages"] = light + facts["stages"]
        if early is not None:
            facts["bounds"]["floor"] = min(early, facts["bounds"].get("floor", early))
        if not known and not meets(prep, current, facts["bounds"].get("floor")):
            bound = relaxed_bound(
                prep, current, None, deadline=deadline, workers=workers, seed=seed
            )
            if bound is not None:
                facts["bounds"]["floor"] = min(bound, facts["bounds"].get("floor", bound))
        proven_hours = facts["bounds"].get("granted_usage", math.inf) <= sum(current.usage.values())
        if deadline - time.perf_counter() > 0.5 and not proven_hours:
            # A bound proven quicker than its reserve leaves time: more hours, the floor held.
            current = hours_lns(prep, current, deadline=deadline, workers=workers, seed=seed)
        return current, facts
    jobs: list[tuple[int, set[str], bool]] = []
    for i, part in enumerate(parts):
        ids = {q.id for u in part for q in u}
        if len(ids) <= block_max:
            jobs.append((i, ids, True))
        else:
            jobs += [(i, b, False) for b in blocks_of(prep, part, block_max)]
            facts["status"] = "feasible"
    # Lowest fair share first, so the floor gets the time while it is there.
    reqs = prep.problem.request_by_id

    def worst_share(ids: set[str]) -> float:
        keys = {(reqs[q].tenant, prep.klass[q]) for q in ids}
        return (
            min(
                current.usage.get(k, 0) / prep.entitlement[k] for k in keys if k in prep.entitlement
            )
            if keys
            else 0.0
        )

    jobs.sort(key=lambda j: (worst_share(j[1]), -len(j[1])))
    facts["parts"] = len(jobs)
    bounds: list[float] = []
    statuses: list[str] = []
    total = sum(len(ids) for _, ids, _ in jobs)
    early: float | None = None  # a proven bound that the floor meets, once there is one
    for n, (_part, ids, whole) in enumerate(jobs):
        if bound_at - time.perf_counter() <= 0.2:
            facts["status"] = "feasible"
            break
        light: list[dict] = []
        if whole and early is None and holds_floor(prep, current, ids):
            left = bound_at - time.perf_counter()
            current, light = _light_floor(
                prep,
                current,
                ids,
                time_limit=left * len(ids) / max(1, total),
                workers=workers,
                seed=seed,
            )
            # The floor's part: its bound now, and if the floor meets it, the parts' solves
            # skip the floor stage and the bounds at the end (their time goes to hours).
            bound = relaxed_bound(
                prep,
                current,
                ids,
                deadline=time.perf_counter() + BOUND_SHARE * time_limit,
                workers=workers,
                seed=seed,
            )
            if bound is not None:
                bounds.append(bound)
                if meets(prep, current, bound):
                    early, bound_at = bound, deadline
        left = bound_at - time.perf_counter()
        if left <= 0.2:
            facts["status"] = "feasible"
            break
        share = len(ids) / max(1, total)
        total -= len(ids)
        budget = max(0.2, left * share)
        current, sub = solve_prepared(
            prep,
            time_limit=budget,
            workers=workers,
            seed=seed,
            current=current,
            only=ids,
            stage3=whole,
            floor_proven=early is not None,
        )
        for st in light + sub["stages"]:
            facts["stages"].append({"part": n, "whole": whole, **st})
        statuses.append(sub["status"])
    # Proven bounds: each part's relaxation (changeovers dropped), which the plan's own floor
    # makes quick to solve; a part in blocks gets the neighbourhood bound instead. Any part's
    # bound bounds the round's floor, so once the floor meets one, the others are not needed.
    whole_parts = [{q.id for u in part for q in u} for part in parts]
    for n, ids in enumerate(whole_parts):
        left = deadline - time.perf_counter()
        if left <= 0.1 or any(meets(prep, current, b) for b in bounds):
            break
        per = left / (len(whole_parts) - n)
        bound = relaxed_bound(
            prep, current, ids, deadline=time.perf_counter() + per, workers=workers, seed=seed
        )
        if bound is not None:
            bounds.append(bound)
    if statuses and all(st == "greedy_fallback" for st in statuses):
        facts["status"] = "greedy_fallback"
    elif facts["status"] == "optimal" and any(st != "optimal" for st in statuses):
        facts["status"] = "feasible"
    if bounds:
        # A part solved whole bounds the round's floor (the floor is the parts' minimum).
        facts["bounds"]["floor"] = min(bounds)
    return current, facts


def meets(prep: Prepared, tl: Timeline, bound: float | None) -> bool:
    """Does the plan's floor reach the proven ``bound`` (as reported: level + 1 step)?"""
    from scheduler.cpsat import Z_SCALE

    if bound is None:
        return False
    return math.floor(fair_level(prep, tl.usage) * Z_SCALE + 1e-6) >= round(bound * Z_SCALE) - 1


def holds_floor(prep: Prepared, tl: Timeline, ids: set[str] | None) -> bool:
    """Is one of the round's worst-served pairs (below their demand) among ``ids``?"""
    reqs = prep.problem.request_by_id
    pool = (q.id for q in prep.problem.requests) if ids is None else ids
    keys = {(reqs[q].tenant, prep.klass[q]) for q in pool if prep.eligible(q)}
    floor = fair_level(prep, tl.usage)
    return any(
        k in prep.entitlement
        and tl.usage.get(k, 0) < prep.demand[k]
        and tl.usage.get(k, 0) / prep.entitlement[k] <= floor + 1e-9
        for k in keys
    )


def _light_floor(
    prep: Prepared,
    current: Timeline,
    ids: set[str] | None,
    *,
    time_limit: float,
    workers: int,
    seed: int,
) -> tuple[Timeline, list[dict]]:
    """Raise the floor of a large model (the requests ``ids``, or the whole round) that holds the
    round's worst-served pair with the busy lines' runs held where they are: that model is
    several times quicker to solve to optimality, and the full model then starts from its
    level (it usually only has to prove it). Returns the plan and the stage facts."""
    from scheduler.cpsat import exact_subset, solve_prepared

    pool = [
        q.id for q in prep.problem.requests if prep.eligible(q.id) and (ids is None or q.id in ids)
    ]
    if len(pool) <= LIGHT_FLOOR_ABOVE:
        return current, []
    held = exact_subset(prep, set(pool), [])
    if held is None or len(held) == len(pool):
        return current, []  # no busy lines: the full model is no slower
    if not holds_floor(prep, current, held):
        return current, []  # the floor is on a busy line: this model cannot raise it
    if not holds_floor(prep, current, ids):
        return current, []  # the round's floor is elsewhere
    new, facts = solve_prepared(
        prep,
        time_limit=LIGHT_FLOOR_SHARE * time_limit,
        workers=workers,
        seed=seed,
        current=current,
        only=ids,
        order=[],
        floor_only=True,
    )
    stages = [{**st, "stage": "floor_light"} for st in facts["stages"]]
    return new, stages


def floor_lns(
    prep: Prepared,
    current: Timeline,
    *,
    deadline: float,
    workers: int,
    seed: int,
    size: int = 150,
    step: float = 0.8,
) -> Timeline:
    """Raise the floor by re-planning small neighbourhoods around the worst-served pair.

    The neighbourhood is the pair's waiting requests plus everything placed on their candidate
    resources around their windows; CP-SAT re-plans it exactly with the rest of the plan fixed
    (floor of the pairs involved first, then hours), so the round's floor never drops. A pair
    whose share does not rise is set aside and the next-worst one is tried.
    """
    from scheduler.cpsat import solve_prepared

    reqs = prep.problem.request_by_id
    chain_of = prep.chain_of()
    waiting: dict[tuple[str, str], list[Request]] = {}
    for unit in units_of(prep):
        for q in unit:
            waiting.setdefault((q.tenant, prep.klass[q.id]), []).append(q)
    stuck: set[tuple[str, str]] = set()
    tries: dict[tuple[str, str], int] = {}
    width: dict[tuple[str, str], int] = {}
    while deadline - time.perf_counter() > 0.3:
        usage = dict(current.usage)

        def share(k, usage=usage):
            return usage.get(k, 0) / prep.entitlement[k]

        open_pairs = [
            k
            for k in prep.entitlement
            if k not in stuck
            and usage.get(k, 0) < prep.demand[k]
            and any(q.id not in current.placed for q in waiting.get(k, ()))
        ]
        if not open_pairs:
            break
        key = min(open_pairs, key=lambda k: (share(k), k))
        mine = [q for q in waiting[key] if q.id not in current.placed]
        hood = _Hood(chain_of)  # the pair's waiting requests first: they stay in an exact model
        for q in sorted(waiting[key], key=lambda q: q.id in current.placed):
            hood.add(q)  # its granted requests too: a quota may need a swap
        # A chain also counts in its other classes, against the tenant's quotas there: the
        # tenant's requests in those classes come along (one may have to make way).
        linked = {(key[0], prep.klass[m.id]) for q in mine for m in chain_of.get(q.id, ())} - {key}
        for k in sorted(linked):
            for q in waiting.get(k, ()):
                hood.add(q)
        # Room for a chain is needed on every step's resources (a metrology slot is no use
        # without its line run).
        steps = list({m.id: m for q in mine for m in chain_of.get(q.id, [q])}.values())
        wide = width.get(key, 1)
        for oid in _around(prep, current, steps, wide, limit=size * wide, waiting=waiting):
            if len(hood) >= size * wide:
                break
            hood.add(reqs[oid])
        before = share(key)
        left = deadline - time.perf_counter()
        tries[key] = tries.get(key, 0) + 1
        new, facts = solve_prepared(
            prep,
            time_limit=min(step * (tries[key] + width.get(key, 1) - 1), left),
            workers=workers,
            seed=seed,
            current=current,
            only=hood.ids,
            stage3=False,
            max_levels=1,
            order=hood.order,
        )
        if share(key, new.usage) > before + 1e-12 or (
            fair_level(prep, new.usage) >= fair_level(prep, current.usage)
            and sum(new.usage.values()) >= sum(current.usage.values())
        ):
            current = new  # (a solve cut short that only lost hours is not kept)
        if share(key, current.usage) <= before + 1e-12:
            # Proven stuck in this neighbourhood, or already given a longer second try: widen
            # it (the requests that could make way for the ones around it), up to WIDEST.
            if facts["status"] == "optimal" or tries[key] >= 2:
                tries[key] = 0
                width[key] = width.get(key, 1) + 1
                if width[key] > WIDEST:
                    stuck.add(key)
    return current


def hours_lns(
    prep: Prepared,
    current: Timeline,
    *,
    deadline: float,
    workers: int,
    seed: int,
    size: int = 200,
    step: float = 0.8,
) -> Timeline:
    """Grant more hours by re-planning small neighbourhoods: a few waiting requests that could
    use the same resource at about the same time, and the requests placed around them. Each is
    re-planned exactly with the rest of the plan fixed and no tenant and class losing hours (so
    every leximin level stays), and kept only if the hours rise."""
    from scheduler.cpsat import solve_prepared

    reqs = prep.problem.request_by_id
    chain_of = prep.chain_of()
    rng = random.Random(seed)
    waiting = [q for q in prep.problem.requests if prep.eligible(q.id)]
    while deadline - time.perf_counter() > 0.3:
        waiting = [q for q in waiting if q.id not in current.placed]
        if not waiting:
            break
        q0 = rng.choice(waiting)
        rid = rng.choice(sorted(prep.starts[q0.id]))
        near = sorted(
            (q for q in waiting if rid in prep.starts[q.id]),
            key=lambda q: (abs(q.earliest - q0.earliest), q.id),
        )[:8]
        hood = _Hood(chain_of)
        for q in near:
            hood.add(q)
        steps = [reqs[qid] for qid in hood.order]
        for oid in _around(prep, current, steps, 1, limit=size, waiting={}):
            if len(hood) >= size:
                break
            hood.add(reqs[oid])
        new, sub = solve_prepared(
            prep,
            time_limit=min(step, deadline - time.perf_counter()),
            workers=workers,
            seed=seed,
            current=current,
            only=hood.ids,
            stage3=False,
            max_levels=1,
            order=hood.order,
            hold_usage=True,
        )
        if fair_level(prep, new.usage) >= fair_level(prep, current.usage) and sum(
            new.usage.values()
        ) > sum(current.usage.values()):
            current = new
        elif sub["status"] == "optimal":
            # Proven: nothing more fits around this request; it is not drawn again.
            waiting = [q for q in waiting if q.id != q0.id]
    return current


class _Hood:
    """A neighbourhood being gathered: request ids in the order they came, chains whole."""

    def __init__(self, chain_of: dict[str, list[Request]]):
        self.chain_of = chain_of
        self.ids: set[str] = set()
        self.order: list[str] = []

    def add(self, q: Request) -> None:
        for m in self.chain_of.get(q.id, [q]):
            if m.id not in self.ids:
                self.ids.add(m.id)
                self.order.append(m.id)

    def __len__(self) -> int:
        return len(self.ids)


def _around(
    prep: Prepared,
    current: Timeline,
    steps: list[Request],
    width: int,
    *,
    limit: int,
    waiting: dict[tuple[str, str], list[Request]],
) -> list[str]:
    """Requests around ``steps`` in rings, closest first (about ``limit`` of them).

    Ring 1: the requests placed on the steps' candidate resources (the three least busy ones at
    width 1) overlapping their windows. Each further ring (up to ``width``): the requests placed
    where the previous ring's requests could move, and a few waiting requests of the pairs the
    previous ring's placed requests belong to (a pair that makes way may need making up for
    elsewhere). Chains come whole."""
    reqs = prep.problem.request_by_id
    res = prep.problem.resource_by_id
    chain_of = prep.chain_of()
    on: dict[str, list[tuple[int, int, str]]] = {}
    for oid, (rids, s) in current.placed.items():
        for rid in rids:
            on.setdefault(rid, []).append((s, s + reqs[oid].duration, oid))
    seen = {q.id for q in steps}
    out: list[str] = []
    ring = steps
    for n in range(width):
        if len(out) >= limit:
            break
        found: dict[str, int] = {}
        for q in ring:
            cands = list(prep.starts[q.id])
            if width == 1:
                cands = sorted(
                    cands, key=lambda r, q=q: (current.used[r][q.earliest : q.deadline].sum(), r)
                )[:3]
            for rid in cands:
                margin = max((t for *_x, t in res[rid].changeovers), default=0)
                for s, e, oid in on.get(rid, ()):
                    if oid not in seen and s < q.deadline + margin and q.earliest - margin < e:
                        d = abs(s - q.earliest)
                        if d < found.get(oid, d + 1):
                            found[oid] = d
            if n > 0 and q.id in current.placed:
                key = (q.tenant, prep.klass[q.id])
                mine = [w for w in waiting.get(key, ()) if w.id not in current.placed]
                mine.sort(key=lambda w, q=q: (abs(w.earliest - q.earliest), w.id))
                for w in mine[:3]:
                    if w.id not in seen:
                        d = abs(w.earliest - q.earliest)
                        if d < found.get(w.id, d + 1):
                            found[w.id] = d
        ring_ids: list[str] = []
        for oid in sorted(found, key=lambda oid: (found[oid], oid)):
            for m in chain_of.get(oid, [reqs[oid]]):
                if m.id not in seen:
                    seen.add(m.id)
                    ring_ids.append(m.id)
        out += ring_ids
        ring = [reqs[oid] for oid in ring_ids[:limit]]
    return out


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
    from ortools.sat.python import cp_model

    from scheduler.cpsat import (
        Z_SCALE,
        _solver,
        build,
        hint_from_solution,
        hint_from_timeline,
        model_level,
    )

    if deadline - time.perf_counter() < 0.05:
        return None
    model, v = build(prep, {}, ids, None, relax_changeovers=True)
    if not v.g:
        return None
    model.Add(v.z >= model_level(prep, current.usage, v.fair_terms))
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
    from ortools.sat.python import cp_model

    from scheduler.cpsat import Z_SCALE, _solver, build, hint_from_timeline, model_level

    reqs = prep.problem.request_by_id
    total: dict[tuple[str, str], int] = {}
    by_pair: dict[tuple[str, str], list[Request]] = {}
    for q in prep.problem.requests:
        if prep.eligible(q.id):
            key = (q.tenant, prep.klass[q.id])
            total[key] = total.get(key, 0) + q.usage
            by_pair.setdefault(key, []).append(q)
    chain_of = prep.chain_of()
    on: dict[str, list[Request]] = {}
    for q in prep.problem.requests:
        if prep.eligible(q.id):
            for rid in prep.starts[q.id]:
                on.setdefault(rid, []).append(q)
    worst = sorted(
        (k for k in prep.entitlement if current.usage.get(k, 0) < prep.demand[k]),
        key=lambda k: (current.usage.get(k, 0) / prep.entitlement[k], k),
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
        for qid in hood:
            k = (reqs[qid].tenant, prep.klass[qid])
            inside[k] = inside.get(k, 0) + reqs[qid].usage
        optimistic = {k: total[k] - inside.get(k, 0) for k in total}
        model, v = build(prep, optimistic, hood, None, quota_outside={}, relax_changeovers=True)
        # The current plan's placements in the neighbourhood are a solution of the relaxation
        # at least as fair as the plan: telling the solver so lets it fix the pairs that must
        # be served in full, which is what makes the bound come quickly.
        model.Add(v.z >= model_level(prep, current.usage, v.fair_terms))
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
