"""Starting plans for the floor search that do not come from the greedy alone.

On rounds whose busy lines carry more runs than one exact model sequences, the runs a model
holds fixed stay where the starting plan put them: a greedy start there can keep the floor at 0
although a positive floor exists. :func:`relaxation_start` rounds the solution of the
changeover-free relaxation (the model that also gives the floor's bound) into a plan that keeps
every rule: the requests of the pairs the relaxation serves most scarcely are placed first, at
the relaxation's own places where the exact changeovers allow, then the greedy fills in, and
local moves raise the floor. :func:`relaxed_order` ranks the requests for the exact models by
the same relaxation, so the runs held fixed on busy lines are chosen from it.
"""

from __future__ import annotations

import bisect
import heapq
import time

import numpy as np
from ortools.sat.python import cp_model

from scheduler.analysis import Prepared
from scheduler.greedy import greedy_placements, improve_floor, units_of
from scheduler.model import Z_SCALE, _solver, build, hint_from_timeline, model_level
from scheduler.timeline import Timeline


class Relaxed:
    """A solution of the changeover-free relaxation: its placements, the usage per pair, and
    the proven bound on the floor (or ``None``)."""

    def __init__(self, placed: dict, usage: dict, bound: float | None, proven: bool) -> None:
        self.placed = placed
        self.usage = usage
        self.bound = bound
        self.proven = proven


def solve_relaxation(
    prep: Prepared, current: Timeline, *, deadline: float, workers: int, seed: int
) -> Relaxed | None:
    """Maximise the floor of the whole round with changeovers dropped (every plan is a plan of
    it), told the level ``current`` reaches; ``None`` if no solution came in time."""
    if deadline - time.perf_counter() < 0.1:
        return None
    model, v = build(prep, {}, None, None, relax_changeovers=True)
    if not v.g:
        return None
    model.Add(v.z >= model_level(prep, current.usage, v.fair_terms))
    model.Maximize(v.z)
    hint_from_timeline(model, prep, v, current)
    solver = _solver(deadline - time.perf_counter(), workers, seed, len(v.g))
    code = solver.Solve(model)
    if code not in (cp_model.OPTIMAL, cp_model.FEASIBLE):
        return None
    reqs = prep.problem.request_by_id
    placed: dict = {}
    usage: dict = {}
    for qid, g in v.g.items():
        if solver.Value(g):
            rids = tuple(rid for rid in prep.starts[qid] if solver.Value(v.x[qid, rid]))
            placed[qid] = (rids, solver.Value(v.s[qid]))
            key = (reqs[qid].tenant, prep.klass[qid])
            usage[key] = usage.get(key, 0) + reqs[qid].usage
    bound = (solver.BestObjectiveBound() + 1) / Z_SCALE
    return Relaxed(placed, usage, bound, code == cp_model.OPTIMAL)


def _scarcity(prep: Prepared, usage: dict, key) -> float:
    """How scarcely a pair is served (its share of its entitlement, capped by its demand)."""
    if key not in prep.entitlement or prep.demand.get(key, 0) <= 0:
        return float("inf")
    return min(usage.get(key, 0), prep.demand[key]) / prep.entitlement[key]


def relaxed_order(prep: Prepared, relaxed: Relaxed, current: Timeline) -> list[str]:
    """Eligible requests ranked for the exact models: the requests the relaxation grants to
    its most scarcely served pairs first (the runs a model re-plans, the rest stay fixed), then
    the other requests the relaxation grants, then the rest."""
    reqs = prep.problem.request_by_id

    def rank(qid: str) -> tuple:
        q = reqs[qid]
        key = (q.tenant, prep.klass[qid])
        return (
            qid not in relaxed.placed,
            _scarcity(prep, current.usage, key),
            _scarcity(prep, relaxed.usage, key),
            qid,
        )

    return sorted((q.id for q in prep.problem.requests if prep.eligible(q.id)), key=rank)


def round_relaxation(prep: Prepared, relaxed: Relaxed) -> Timeline:
    """A plan that keeps every rule from the relaxation's solution: units of the pairs it serves
    most scarcely first, each member at its relaxed place when the exact changeovers allow it
    (else at its earliest possible start), then the greedy fills in the rest."""
    tl = Timeline(prep)
    granted = []
    for unit in units_of(prep):
        if all(q.id in relaxed.placed for q in unit):
            keys = {(q.tenant, prep.klass[q.id]) for q in unit}
            scarce = min(_scarcity(prep, relaxed.usage, k) for k in keys)
            granted.append((scarce, relaxed.placed[unit[0].id][1], unit[0].id, unit))
    granted.sort(key=lambda g: g[:3])
    for _scarce, _s, _id, unit in granted:
        if not _place_at(tl, unit, relaxed.placed):
            tl.place_unit(unit)
    return greedy_placements(prep, tl)


def _place_at(tl: Timeline, unit: list, placed: dict) -> bool:
    """Place every member of ``unit`` at its relaxed start (all or nothing, quotas kept)."""
    need: dict = {}
    for q in unit:
        key = (q.tenant, tl.prep.klass[q.id])
        need[key] = need.get(key, 0) + q.usage
    for (t, c), n in need.items():
        left = tl.quota_left(t, c)
        if left is not None and n > left:
            return False
    done = []
    for q in unit:
        s = placed[q.id][1]
        spot = tl.find(q, lo=s, hi=s)
        if spot is None:
            for m in reversed(done):
                tl.remove(m)
            return False
        tl.place(q, *spot)
        done.append(q)
    return True


def relaxation_start(
    prep: Prepared,
    relaxed: Relaxed,
    *,
    deadline: float,
) -> Timeline:
    """The rounded relaxation with its floor raised by local moves until ``deadline``."""
    tl = round_relaxation(prep, relaxed)
    improve_floor(prep, tl, deadline=deadline)
    return tl


def _options(prep: Prepared, q) -> int:
    """How many (resource, start) places the request has at all."""
    return sum(hi - lo + 1 for ranges in prep.starts[q.id].values() for lo, hi in ranges)


def _pairs_of(prep: Prepared, unit: list) -> set:
    return {
        k
        for q in unit
        if (k := (q.tenant, prep.klass[q.id])) in prep.entitlement and prep.demand.get(k, 0) > 0
    }


def _spot_count(tl: Timeline, unit: list) -> int:
    """How many places the unit's first request has left (a chain's later steps not counted)."""
    head = unit[0]
    rids = list(tl.prep.starts[head.id])
    if not rids:
        return 0
    if head.nodes == 1 and tl._has_line_check(head.id, rids):
        return len(_line_spots(tl, head))
    return int(tl._ok_matrix(head, rids, 0, tl.H).any(axis=0).sum())


def scarce_first_start(prep: Prepared, *, deadline: float, per_pair: int = 6) -> Timeline:
    """A greedy variant: first every tenant and class gets one unit (a request or a whole chain
    serving it), the pair with the fewest places left going next, a line run placed where it
    adds the least changeover time; then progressive filling places the rest. The plain greedy
    serves pairs in share order and places runs at their earliest start: on a busy line it
    gives the line out, in recipe order as it comes, before the turn of a pair whose only
    request is one tight chain, and the floor stays 0."""
    tl = Timeline(prep)
    by_pair: dict = {}
    for unit in units_of(prep):
        for key in _pairs_of(prep, unit):
            by_pair.setdefault(key, []).append(unit)
    for units in by_pair.values():
        units.sort(key=lambda u: (sum(q.usage for q in u), u[0].deadline, u[0].id))
        del units[per_pair:]

    def count(key) -> int:
        return sum(_spot_count(tl, u) for u in by_pair[key] if u[0].id not in tried)

    tried: set[str] = set()
    served: set = set()
    heap = [(count(k), k) for k in sorted(by_pair)]
    heapq.heapify(heap)
    while heap and time.perf_counter() < deadline:
        stale, key = heapq.heappop(heap)
        if key in served:
            continue
        now = count(key)
        if heap and now > heap[0][0]:
            heapq.heappush(heap, (now, key))
            continue
        # The pair's smallest unit that still fits (its first one in the order above).
        for unit in by_pair[key]:
            if unit[0].id in tried or unit[0].id in tl.placed:
                continue
            tried.add(unit[0].id)
            if place_snug(tl, unit):
                served |= _pairs_of(prep, unit)
                break
        served.add(key)
    return greedy_placements(prep, tl)


def _open_count(tl: Timeline, rid: str) -> np.ndarray:
    """Cumulative count of a line's open slots (``c[b] - c[a]`` = open slots in [a, b))."""
    key = ("open_count", rid)
    if key not in tl.prep.cache:
        mask = np.zeros(tl.H, dtype=np.int32)
        for a, b in tl.prep.free.get(rid, [(0, tl.H)]):
            mask[max(0, a) : min(tl.H, b)] = 1
        tl.prep.cache[key] = np.concatenate(([0], np.cumsum(mask)))
    return tl.prep.cache[key]


def _waste(tl: Timeline, rid: str, recipe, s: int, e: int) -> tuple[int, int]:
    """What a run in [s, e) on line ``rid`` costs the line: the open slots its changeovers to
    and from its neighbours add (a changeover across a closed night costs nothing), then how
    snug it sits (open idle slots on its tighter side, against a neighbour or the opening)."""
    c = _open_count(tl, rid)
    r, gap = tl.res[rid], tl.prep.changeover_gap
    starts = tl.run_starts.get(rid) or []
    i = bisect.bisect_left(starts, s)

    def open_in(a: int, b: int) -> int:
        return int(c[min(max(b, 0), tl.H)] - c[min(max(a, 0), tl.H)])

    def closed_in(a: int, b: int) -> int:
        return max(0, b - a) - open_in(a, b)

    cost = 0
    if i > 0:
        pe, prev = tl.run_info[rid][i - 1]
        cost += max(0, gap(r, prev, recipe) - closed_in(pe, s))
        left = open_in(pe, s)
    else:
        left = open_in(max(0, s - 8), s)
    if i < len(starts):
        ns, nxt = starts[i], tl.run_info[rid][i][1]
        cost += max(0, gap(r, recipe, nxt) - closed_in(e, ns))
        if i > 0:
            cost -= max(0, gap(r, prev, nxt) - closed_in(pe, ns))
        right = open_in(e, ns)
    else:
        right = open_in(e, min(tl.H, e + 8))
    return cost, min(left, right)


def _line_spots(tl: Timeline, q) -> list[tuple[int, int, int, str]]:
    """Every (waste, snugness, start, line) where ``q`` fits, least changeover waste first."""
    rids = list(tl.prep.starts[q.id])
    ok = tl._ok_matrix(q, rids, 0, tl.H)
    out = []
    for i, rid in enumerate(rids):
        for s in np.flatnonzero(ok[i]):
            s = int(s)
            if tl.line_ok(rid, q.recipe, s, s + q.duration):
                out.append((*_waste(tl, rid, q.recipe, s, s + q.duration), s, rid))
    out.sort()
    return out


def place_snug(tl: Timeline, unit: list, tries: int = 24) -> bool:
    """Place a unit (all or nothing, quotas kept) with its line run where it adds the least
    changeover time (not simply at its earliest start); other units as the timeline does."""
    head = unit[0]
    if head.nodes > 1 or not tl._has_line_check(head.id, list(tl.prep.starts[head.id])):
        return tl.place_unit(unit)
    need: dict = {}
    for q in unit:
        key = (q.tenant, tl.prep.klass[q.id])
        need[key] = need.get(key, 0) + q.usage
    for (t, c), n in need.items():
        left = tl.quota_left(t, c)
        if left is not None and n > left:
            return False
    for _w, _k, s, rid in _line_spots(tl, head)[:tries]:
        tl.place(head, (rid,), s)
        done = [head]
        prev_end = s + head.duration
        for q in unit[1:]:
            hi = None if q.max_gap is None else prev_end + q.max_gap
            spot = tl.find(q, lo=prev_end, hi=hi)
            if spot is None:
                break
            tl.place(q, *spot)
            done.append(q)
            prev_end = spot[1] + q.duration
        if len(done) == len(unit):
            return True
        for q in reversed(done):
            tl.remove(q)
    return False


def free_order(prep: Prepared, current: Timeline) -> list[str]:
    """Requests ranked for a floor model that frees held runs: the waiting requests of the
    pairs at the floor first (lowest share first), then the placed requests of the pairs with
    the most to spare (highest share first: their runs on a busy line are the ones the model may
    move or drop to make room), then the others. With this order the runs a model holds fixed
    on a busy line are those of the pairs closest to the floor, instead of where the greedy
    happened to put them."""
    reqs = prep.problem.request_by_id

    def share(key) -> float:
        if key not in prep.entitlement:
            return float("inf")
        return current.usage.get(key, 0) / prep.entitlement[key]

    def rank(qid: str) -> tuple:
        q = reqs[qid]
        key = (q.tenant, prep.klass[qid])
        below = current.usage.get(key, 0) < prep.demand.get(key, 0)
        if qid not in current.placed:
            return (0 if below else 2, share(key), qid)
        return (1, -share(key), qid)

    return sorted((q.id for q in prep.problem.requests if prep.eligible(q.id)), key=rank)
