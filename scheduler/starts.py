"""Starting plans and held-run choices for the floor search on busy lines.

On rounds whose busy lines carry more runs than one exact model sequences
(``EXACT_CHANGEOVER_LIMIT``), the runs a model holds fixed stay where the starting plan put
them: a greedy start that leaves a pair without any run there keeps the floor at 0 although a
positive floor exists. :func:`scarce_first_start` is a greedy variant that first gives every
tenant and class one unit, most constrained pair first, with line runs placed where they add
the least changeover time (:func:`place_snug`); :func:`free_order` ranks requests for a floor
model that frees the runs of the pairs with the most to spare instead of holding them.
"""

from __future__ import annotations

import bisect
import heapq
import time

import numpy as np

from scheduler.analysis import Prepared
from scheduler.fairness import share_of
from scheduler.greedy import greedy_placements, units_of
from scheduler.timeline import Timeline


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
    """Requests ranked for a floor model that frees held runs on busy lines:

    1. the waiting requests of the pairs at the floor (lowest share first);
    2. the placed runs in their way: on one of their candidate resources, overlapping their
       window (changeover included), of the pairs with the most to spare first;
    3. the other waiting requests of pairs below their demand (lowest share first);
    4. the other placed runs (highest share first), then the rest.

    A busy line's model takes its runs in this order, so the runs held fixed are those far from
    the floor pairs' windows, instead of where the greedy happened to put them (ranking all the
    waiting requests first filled the model with them on week rounds and held every run in the
    floor pairs' way)."""
    reqs = prep.problem.request_by_id
    res = prep.problem.resource_by_id

    def share(key) -> float:
        if key not in prep.entitlement:
            return float("inf")
        return share_of(prep, key, current)

    def below(key) -> bool:
        return current.usage.get(key, 0) < prep.demand.get(key, 0)

    eligible = [q.id for q in prep.problem.requests if prep.eligible(q.id)]
    shares = {}
    for qid in eligible:
        key = (reqs[qid].tenant, prep.klass[qid])
        if key not in shares:
            shares[key] = share(key)
    open_shares = [v for k, v in shares.items() if below(k) and k in prep.entitlement]
    floor = min(open_shares, default=float("inf"))
    at_floor = [
        qid
        for qid in eligible
        if qid not in current.placed
        and below(k := (reqs[qid].tenant, prep.klass[qid]))
        and shares[k] <= floor + 1e-9
    ]
    # The windows the floor pairs' waiting requests need, per resource.
    need: dict[str, list[tuple[int, int]]] = {}
    for qid in at_floor:
        q = reqs[qid]
        for rid in prep.starts[qid]:
            margin = max((t for *_x, t in res[rid].changeovers), default=0)
            need.setdefault(rid, []).append((q.earliest - margin, q.deadline + margin))

    def in_the_way(qid: str) -> bool:
        rids, start = current.placed[qid]
        end = start + reqs[qid].duration
        return any(lo < end and start < hi for rid in rids for lo, hi in need.get(rid, ()))

    floor_set = set(at_floor)

    def rank(qid: str) -> tuple:
        key = (reqs[qid].tenant, prep.klass[qid])
        if qid in floor_set:
            return (0, shares[key], qid)
        if qid in current.placed:
            return (1 if in_the_way(qid) else 3, -shares[key], qid)
        return (2 if below(key) else 4, shares[key], qid)

    return sorted(eligible, key=rank)
