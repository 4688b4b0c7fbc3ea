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
import time
from dataclasses import replace

from scheduler.analysis import Prepared
from scheduler.bounds import holds_floor, meets, neighbourhood_bound, relaxed_bound
from scheduler.cover import zero_floor_proven
from scheduler.cpsat import exact_subset, solve_prepared
from scheduler.fairness import fair_level, share_of
from scheduler.greedy import greedy_placements, improve_floor, units_of
from scheduler.neighbourhoods import _around, floor_lns, hours_lns
from scheduler.pipeline import (
    FEASIBLE,
    GREEDY_FALLBACK,
    OPTIMAL,
    SHARES,
    Budget,
    SolveFacts,
    SolveOptions,
    StageFact,
    Step,
)
from scheduler.problem import Request
from scheduler.starts import free_order, scarce_first_start
from scheduler.timeline import Timeline

__all__ = [
    "_around",
    "blocks_of",
    "exact_parts",
    "floor_lns",
    "holds_floor",
    "hours_lns",
    "meets",
    "neighbourhood_bound",
    "plan_parts",
    "relaxed_bound",
]

BLOCK_MAX = 2500
# Above this many requests even blocks are too slow on two cores: only neighbourhoods are solved.
NEIGHBOURHOODS_ONLY_ABOVE = 7500
# A model holding the round's floor with more requests than this first raises the floor with
# the busy lines held (``SHARES.light_floor`` of its time at most).
LIGHT_FLOOR_ABOVE = 1000
# A round of at most this many requests is first solved as one model (``SHARES.quick_exact``).
QUICK_EXACT_MAX = 400
# The scarce-pairs-first start is tried when the plain greedy leaves this share of the pairs with
# demand at 0 (hot-spot rounds: 9-15%; week rounds: about 1%).
SCARCE_START_ZERO_SHARE = 0.05
# Seconds the scarce-pairs-first start (and its local moves) may take even when the start's
# share is spent.
SCARCE_MIN_SECONDS = 0.3
# Seconds of solving time reserved per request of the round for writing a large plan's reasons
# (compacting it first).
WRITE_SECONDS_PER_REQUEST = 4.5 / 10_000


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


def _start(prep: Prepared, *, deadline: float) -> Timeline:
    """The starting plan: the greedy fair plan and its short-runs-first variant, each with its
    floor raised by local moves; the fairer (then the one granting more) is kept. On rounds
    whose busy lines have more tenants than long runs fit, only the variant gives everyone a
    run; elsewhere the plain greedy usually grants more hours at the same floor. If both leave
    many pairs with nothing (floor 0; ``SCARCE_START_ZERO_SHARE`` of the pairs with demand or
    more in the plain greedy), the scarce-pairs-first variant is tried too
    (:func:`scheduler.starts.scarce_first_start`). Not otherwise: on week rounds of 2,000
    requests (1-3 pairs of 110-230 at 0 in the greedy), started from it, the floor ended lower
    (0.21-0.31 against 0.29-0.38)."""
    best, best_key = None, None
    zero_share = 0.0
    for short_first in (False, True):
        tl = greedy_placements(prep, short_first=short_first)
        if not short_first:
            active = [k for k in prep.entitlement if prep.demand.get(k, 0) > 0]
            zero = sum(1 for k in active if tl.usage.get(k, 0) == 0)
            zero_share = zero / max(1, len(active))
        # A better floor in the hint saves CP-SAT most of its first stage.
        now = time.perf_counter()
        improve_floor(prep, tl, deadline=now + max(0.0, deadline - now) / (2 - short_first))
        key = (fair_level(prep, tl), sum(tl.usage.values()))
        if best_key is None or key > best_key:
            best, best_key = tl, key
    if best_key[0] <= 0 and zero_share >= SCARCE_START_ZERO_SHARE:
        # (fast: about 0.1 s on 2,000 requests; its own floor of time so that a slow prepare
        # does not leave it none)
        now = time.perf_counter()
        tl = scarce_first_start(prep, deadline=max(deadline, now + SCARCE_MIN_SECONDS))
        improve_floor(prep, tl, deadline=max(deadline, now + SCARCE_MIN_SECONDS))
        key = (fair_level(prep, tl), sum(tl.usage.values()))
        if key > best_key:
            best = tl
    return best


def plan_parts(
    prep: Prepared, budget: Budget, *, block_max: int = BLOCK_MAX
) -> tuple[Timeline, SolveFacts]:
    """Plan the round in ``budget``; returns the placements and the solve facts (a floor bound
    only where every part was solved whole).

    The pipeline: the starting plans (:func:`_start`); for a small round, one whole model that
    answers at once if every stage is proven; the floor raised neighbourhood by neighbourhood;
    then one strategy: :func:`_neighbourhoods_only` (rounds too large for blocks),
    :func:`_one_model` (at most ``block_max`` requests) or :func:`_by_parts`."""
    n_eligible = sum(1 for q in prep.problem.requests if prep.eligible(q.id))
    # Writing the reasons of a large plan (compacting it first) takes a moment too.
    deadline = budget.end(reserve=WRITE_SECONDS_PER_REQUEST * n_eligible)
    steps: list[Step] = []
    current = _start(prep, deadline=budget.at(SHARES.start))
    _step(steps, "start", prep, budget, current)
    zero = _zero_floor(prep, budget, current)
    if zero:
        _step(steps, "floor_zero_proven", prep, budget, current)
    current, facts = _strategy(
        prep, budget, current, deadline, block_max, n_eligible, steps, floor_zero=zero
    )
    if zero:
        facts.bounds["floor"] = 0.0
    facts.steps = steps
    return current, facts


def _zero_floor(prep: Prepared, budget: Budget, current: Timeline) -> bool:
    """Is the floor proven 0 (:func:`scheduler.cover.zero_floor_proven`)? Tried only when the
    start leaves ``SCARCE_START_ZERO_SHARE`` of the pairs with demand at 0 (hot-spot rounds:
    9-15%; week rounds: about 1%, whose lines cover everyone): elsewhere its model would only
    cost the floor stages time."""
    if fair_level(prep, current) > 0:
        return False
    active = [k for k in prep.entitlement if prep.demand.get(k, 0) > 0]
    zero = sum(1 for k in active if current.usage.get(k, 0) == 0)
    if zero < SCARCE_START_ZERO_SHARE * max(1, len(active)):
        return False
    return zero_floor_proven(
        prep,
        deadline=time.perf_counter() + SHARES.cover * budget.limit,
        workers=budget.workers,
        seed=budget.seed,
    )


def _step(steps: list[Step], name: str, prep: Prepared, budget: Budget, tl: Timeline) -> None:
    steps.append(
        Step(name, round(budget.elapsed(), 3), fair_level(prep, tl), sum(tl.usage.values()))
    )


def _strategy(
    prep: Prepared,
    budget: Budget,
    current: Timeline,
    deadline: float,
    block_max: int,
    n_eligible: int,
    steps: list[Step],
    *,
    floor_zero: bool = False,
) -> tuple[Timeline, SolveFacts]:
    """``floor_zero``: the floor is proven 0, so no step raises it; the time goes to hours."""
    if n_eligible > NEIGHBOURHOODS_ONLY_ABOVE:
        return _neighbourhoods_only(prep, budget, current, deadline, steps)
    single = n_eligible <= block_max
    if n_eligible <= QUICK_EXACT_MAX:
        # A small round first gets one whole model: every stage stops once it is proven, so a
        # round that is easy answers at once instead of using its whole time limit.
        quick, qfacts = solve_prepared(
            prep, budget.sub(SHARES.quick_exact * budget.limit), current=current
        )
        _step(steps, "quick_exact", prep, budget, quick)
        if qfacts.status == OPTIMAL:
            return quick, qfacts
        if fair_level(prep, quick) >= fair_level(prep, current):
            current = quick
    if floor_zero and single:
        return _one_model(prep, budget, current, deadline, steps, floor_zero=True)
    current = floor_lns(
        prep,
        current,
        deadline=budget.at(SHARES.single_lns_max if single else SHARES.lns),
        soft=budget.at(SHARES.single_lns) if single else None,
        patience=SHARES.lns_patience * budget.limit,
        workers=budget.workers,
        seed=budget.seed,
    )
    _step(steps, "floor_lns", prep, budget, current)
    if single:
        # Small enough for one model: CP-SAT shares its time over the parts better itself.
        return _one_model(prep, budget, current, deadline, steps)
    return _by_parts(prep, budget, current, deadline, block_max, steps)


def _neighbourhoods_only(
    prep: Prepared, budget: Budget, current: Timeline, deadline: float, steps: list[Step]
) -> tuple[Timeline, SolveFacts]:
    """A round too large even for blocks: the floor raised in neighbourhoods, then a bound from
    the worst-served pairs' neighbourhoods."""
    workers, seed = budget.workers, budget.seed
    current = floor_lns(
        prep,
        current,
        deadline=deadline - SHARES.bound * budget.limit,
        workers=workers,
        seed=seed,
    )
    _step(steps, "floor_lns", prep, budget, current)
    facts = SolveFacts(status=FEASIBLE)
    bound = neighbourhood_bound(prep, current, deadline=deadline, workers=workers, seed=seed)
    _step(steps, "bound", prep, budget, current)
    if bound is not None:
        facts.bounds["floor"] = bound
    return current, facts


def _one_model(
    prep: Prepared,
    budget: Budget,
    current: Timeline,
    deadline: float,
    steps: list[Step],
    *,
    floor_zero: bool = False,
) -> tuple[Timeline, SolveFacts]:
    """A round small enough for one model: where a pair still has nothing, the floor raised with
    the busy lines held, then with their runs freed; a bound proven early saves the floor stage;
    a floor still 0 gets more neighbourhoods; the staged whole-round solve; and the time a quick
    bound leaves, for hours in neighbourhoods. No step before the whole model takes the time it needs
    (``SHARES.whole_model_min``)."""
    workers, seed = budget.workers, budget.seed
    limit = budget.limit
    bound_at = deadline - SHARES.single_bound * limit
    model_at = bound_at - SHARES.whole_model_min * limit

    def until(moment: float, seconds: float) -> float:
        """``seconds`` from now, or less so as to end by ``moment``."""
        return max(0.0, min(seconds, moment - time.perf_counter()))

    light: list = []
    if fair_level(prep, current) <= 0 and not floor_zero:
        # A pair the neighbourhoods left with nothing: its requests may wait behind runs held
        # on busy lines; the floor with them held, then with them freed.
        current, light = _light_floor(prep, current, None, budget.sub(until(model_at, limit)))
        _step(steps, "floor_light", prep, budget, current)
        current, freed = free_held(prep, current, budget.sub(until(model_at, SHARES.free * limit)))
        _step(steps, "floor_free", prep, budget, current)
        light += freed
    # A bound proven now that the floor meets saves the floor stage and the bound at the end:
    # the time goes to the next levels and to granted hours instead.
    early = (
        0.0
        if floor_zero
        else relaxed_bound(
            prep,
            current,
            None,
            deadline=time.perf_counter() + until(model_at, SHARES.early_bound * limit),
            workers=workers,
            seed=seed,
        )
    )
    known = early is not None and meets(prep, current, early)
    _step(steps, "early_bound", prep, budget, current)
    if not known and fair_level(prep, current) <= 0:
        # A pair still has nothing (and no bound says that is the best): its requests wait on
        # busy lines whose runs the whole model holds, so that model cannot raise the floor;
        # neighbourhoods around the pair can.
        current = floor_lns(
            prep,
            current,
            deadline=time.perf_counter() + until(model_at, SHARES.zero_lns * limit),
            workers=workers,
            seed=seed,
        )
        known = early is not None and meets(prep, current, early)
        _step(steps, "floor_lns_zero", prep, budget, current)
    if known:
        # The floor is proven: small neighbourhoods re-planned for hours (the floor held) give
        # the whole model's later stages a fuller hint than its own search finds.
        current = hours_lns(
            prep,
            current,
            deadline=time.perf_counter()
            + until(deadline - SHARES.whole_model_min * limit, SHARES.single_hours * limit),
            workers=workers,
            seed=seed,
        )
        _step(steps, "hours_lns", prep, budget, current)
    end = deadline if known else bound_at
    current, facts = solve_prepared(
        prep,
        budget.sub(budget.limit_until(end), started=budget.started),
        current=current,
        options=SolveOptions(floor_proven=known),
    )
    _step(steps, "whole_model", prep, budget, current)
    facts.stages = light + facts.stages
    if early is not None:
        facts.bounds["floor"] = min(early, facts.bounds.get("floor", early))
    if not known and not meets(prep, current, facts.bounds.get("floor")):
        bound = relaxed_bound(prep, current, None, deadline=deadline, workers=workers, seed=seed)
        if bound is not None:
            facts.bounds["floor"] = min(bound, facts.bounds.get("floor", bound))
        _step(steps, "bound", prep, budget, current)
    proven_hours = facts.bounds.get("granted_usage", math.inf) <= sum(current.usage.values())
    if deadline - time.perf_counter() > 0.5 and not proven_hours:
        # A bound proven quicker than its reserve leaves time: more hours, the floor held.
        current = hours_lns(prep, current, deadline=deadline, workers=workers, seed=seed)
        _step(steps, "hours_lns", prep, budget, current)
    return current, facts


def _by_parts(
    prep: Prepared,
    budget: Budget,
    current: Timeline,
    deadline: float,
    block_max: int,
    steps: list[Step],
) -> tuple[Timeline, SolveFacts]:
    """A round in independent parts (and blocks inside large parts), each solved with the rest
    of the plan fixed, lowest fair share first; then each part's relaxation as a bound."""
    workers, seed = budget.workers, budget.seed
    parts = exact_parts(prep)
    facts = SolveFacts(status=OPTIMAL)
    bound_at = deadline - SHARES.bound * budget.limit
    jobs: list[tuple[int, set[str], bool]] = []
    for i, part in enumerate(parts):
        ids = {q.id for u in part for q in u}
        if len(ids) <= block_max:
            jobs.append((i, ids, True))
        else:
            jobs += [(i, b, False) for b in blocks_of(prep, part, block_max)]
            facts.status = FEASIBLE
    # Lowest fair share first, so the floor gets the time while it is there.
    reqs = prep.problem.request_by_id

    def worst_share(ids: set[str]) -> float:
        keys = {(reqs[q].tenant, prep.klass[q]) for q in ids}
        return (
            min(share_of(prep, k, current) for k in keys if k in prep.entitlement) if keys else 0.0
        )

    jobs.sort(key=lambda j: (worst_share(j[1]), -len(j[1])))
    facts.parts = len(jobs)
    bounds: list[float] = []
    statuses: list[str] = []
    total = sum(len(ids) for _, ids, _ in jobs)
    early: float | None = None  # a proven bound that the floor meets, once there is one
    for n, (_part, ids, whole) in enumerate(jobs):
        if bound_at - time.perf_counter() <= 0.2:
            facts.status = FEASIBLE
            break
        light: list[StageFact] = []
        if whole and early is None and holds_floor(prep, current, ids):
            left = bound_at - time.perf_counter()
            current, light = _light_floor(
                prep, current, ids, budget.sub(left * len(ids) / max(1, total))
            )
            # The floor's part: its bound now, and if the floor meets it, the parts' solves
            # skip the floor stage and the bounds at the end (their time goes to hours).
            bound = relaxed_bound(
                prep,
                current,
                ids,
                deadline=time.perf_counter() + SHARES.bound * budget.limit,
                workers=workers,
                seed=seed,
            )
            if bound is not None:
                bounds.append(bound)
                if meets(prep, current, bound):
                    early, bound_at = bound, deadline
        left = bound_at - time.perf_counter()
        if left <= 0.2:
            facts.status = FEASIBLE
            break
        share = len(ids) / max(1, total)
        total -= len(ids)
        current, sub = solve_prepared(
            prep,
            budget.sub(max(0.2, left * share)),
            current=current,
            options=SolveOptions(only=ids, stage3=whole, floor_proven=early is not None),
        )
        for st in light + sub.stages:
            facts.stages.append(replace(st, part=n, whole=whole))
        statuses.append(sub.status)
        _step(steps, f"part_{n}", prep, budget, current)
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
    if statuses and all(st == GREEDY_FALLBACK for st in statuses):
        facts.status = GREEDY_FALLBACK
    elif facts.status == OPTIMAL and any(st != OPTIMAL for st in statuses):
        facts.status = FEASIBLE
    if bounds:
        # A part solved whole bounds the round's floor (the floor is the parts' minimum).
        facts.bounds["floor"] = min(bounds)
    _step(steps, "bound", prep, budget, current)
    return current, facts


def _light_floor(
    prep: Prepared, current: Timeline, ids: set[str] | None, budget: Budget
) -> tuple[Timeline, list[StageFact]]:
    """Raise the floor of a large model (the requests ``ids``, or the whole round) that holds the
    round's worst-served pair with the busy lines' runs held where they are: that model is
    several times quicker to solve to optimality, and the full model then starts from its
    level (it usually only has to prove it). ``budget``: the model's whole share, of which
    ``SHARES.light_floor`` is used at most. Returns the plan and the stage facts."""

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
        budget.sub(SHARES.light_floor * budget.limit),
        current=current,
        options=SolveOptions(only=ids, order=[], floor_only=True),
    )
    return new, [replace(st, stage="floor_light") for st in facts.stages]


def free_held(
    prep: Prepared, current: Timeline, budget: Budget
) -> tuple[Timeline, list[StageFact]]:
    """When the floor is stuck on a busy line (a pair at the floor waits for a run there), one
    floor model in which that line's runs are chosen by :func:`scheduler.starts.free_order`:
    the waiting runs of the pairs at the floor and the runs of the pairs with the most to spare
    are planned, the others held. The floor never drops; returns the plan and stage facts."""
    held = exact_subset(prep, None, [])
    if held is None:
        return current, []  # no busy lines: the whole-round model holds nothing
    reqs = prep.problem.request_by_id
    floor = fair_level(prep, current)
    stuck = any(
        q not in held
        and q not in current.placed
        and (k := (reqs[q].tenant, prep.klass[q])) in prep.entitlement
        and current.usage.get(k, 0) < prep.demand[k]
        and share_of(prep, k, current) <= floor + 1e-9
        for q in (r.id for r in prep.problem.requests if prep.eligible(r.id))
    )
    if not stuck:
        return current, []
    new, facts = solve_prepared(
        prep,
        budget.sub(budget.limit),  # (its clock starts with the model)
        current=current,
        options=SolveOptions(order=free_order(prep, current), floor_only=True, placed_first=False),
    )
    if fair_level(prep, new) < floor:
        new = current
    return new, [replace(st, stage="floor_free") for st in facts.stages]
