"""Two planners that need no solver.

* :func:`greedy_fair` — progressive filling: always serve next the tenant (per class) with the
  smallest share of its entitlement, placing its most important request at the earliest start
  that breaks no hard rule. It is the answer of last resort and the complete hint for CP-SAT.
* :func:`first_come_first_served` — the baseline: requests in the order given, each at its
  earliest possible start.
"""

from __future__ import annotations

import heapq
import time

from scheduler.analysis import Prepared, prepare
from scheduler.fairness import share_of
from scheduler.plan import Plan
from scheduler.problem import Problem, Request
from scheduler.reasons import make_plan
from scheduler.timeline import Timeline


def units_of(prep: Prepared) -> list[list[Request]]:
    """Eligible requests grouped into placement units (a single request or a whole chain),
    in request order (computed once per prepared round)."""
    if ("units",) in prep.cache:
        return prep.cache[("units",)]
    units: list[list[Request]] = []
    seen_chain: set[str] = set()
    for q in prep.problem.requests:
        if not prep.eligible(q.id):
            continue
        if q.chain is not None and len(prep.chains.get(q.chain, ())) > 1:
            if q.chain in seen_chain:
                continue
            seen_chain.add(q.chain)
            units.append(list(prep.chains[q.chain]))
        else:
            units.append([q])
    prep.cache[("units",)] = units
    return units


def in_demand_set(prep: Prepared, unit: list[Request]) -> bool:
    """Whether every request of the unit counts towards its tenant's demand."""
    return all(q.id in prep.demand_set.get((q.tenant, prep.klass[q.id]), ()) for q in unit)


def greedy_placements(
    prep: Prepared,
    timeline: Timeline | None = None,
    only: set[str] | None = None,
    *,
    short_first: bool = False,
) -> Timeline:
    """Fill a timeline by weighted progressive filling (only with the requests in ``only``,
    when given); returns it. ``short_first``: each pair's smallest requests first (another
    starting point: on a busy line every tenant gets a short run before anyone a long one)."""
    tl = timeline or Timeline(prep)
    order = {q.id: i for i, q in enumerate(prep.problem.requests)}
    queues: dict[tuple[str, str], list[list[Request]]] = {}
    for unit in units_of(prep):
        head = unit[0]
        if head.id in tl.placed or (only is not None and head.id not in only):
            continue
        # A chain waits in the queue of every tenant/class pair it serves (a line run chained
        # to a metrology slot counts for both classes); the first pair served places it.
        keys = [(head.tenant, prep.klass[head.id])]
        keys += [k for q in unit[1:] if (k := (q.tenant, prep.klass[q.id])) not in keys]
        for key in keys:
            if key in prep.entitlement or key == keys[0]:
                queues.setdefault(key, []).append(unit)
    for units in queues.values():
        # The requests that make up the demand first (under a quota, a request outside that
        # set could use up the quota and keep the tenant below its demand for good); then most
        # important first; then the tightest deadline; then request order.
        units.sort(
            key=lambda u: (
                not in_demand_set(prep, u),
                sum(q.usage for q in u) if short_first else 0,
                -u[0].priority,
                u[0].deadline,
                u[0].earliest,
                order[u[0].id],
            )
        )
        units.reverse()  # pop() from the end
    tenant_rank = {t.id: i for i, t in enumerate(prep.problem.tenants)}

    def ratio(key: tuple[str, str]) -> float:
        return share_of(prep, key, tl)

    tried: set[str] = set()
    heap = [(ratio(k), tenant_rank[k[0]], k[1], k) for k in queues]
    heapq.heapify(heap)
    while heap:
        r, rank, c, key = heapq.heappop(heap)
        now = ratio(key)
        if now > r + 1e-12:
            heapq.heappush(heap, (now, rank, c, key))
            continue
        queue = queues[key]
        while queue and queue[-1][0].id in tried:
            queue.pop()
        if not queue:
            continue
        unit = queue.pop()
        tried.add(unit[0].id)
        tl.place_unit(unit)
        if queue:
            heapq.heappush(heap, (ratio(key), rank, c, key))
    return tl


def greedy_fair(problem: Problem, *, prep: Prepared | None = None) -> Plan:
    """The greedy fair plan, with reasons and figures."""
    t0 = time.perf_counter()
    prep = prep or prepare(problem)
    tl = greedy_placements(prep)
    return make_plan(prep, tl, status="greedy", planner="greedy_fair", started=t0)


def first_come_first_served(problem: Problem, *, prep: Prepared | None = None) -> Plan:
    """Baseline: requests in the order given, each at its earliest feasible start."""
    t0 = time.perf_counter()
    prep = prep or prepare(problem)
    tl = Timeline(prep)
    for unit in units_of(prep):
        tl.place_unit(unit)
    return make_plan(prep, tl, status="fcfs", planner="fcfs", started=t0)


def improve_floor(
    prep: Prepared, tl: Timeline, *, deadline: float, only: set[str] | None = None
) -> Timeline:
    """Raise the fairness floor of a plan by local moves (changes ``tl`` in place).

    Repeatedly take the tenant/class pair with the smallest share of its entitlement (still
    below its demand) and try to grant one more of its requests, if needed by moving out
    requests of pairs that would still keep a larger share than this pair has now; moved-out
    requests are placed again elsewhere when they fit. A pair that cannot be helped is left at
    its level and the next one is tried (a leximin-style sweep). The floor never decreases.
    """
    problem = prep.problem
    reqs = problem.request_by_id
    ent = prep.entitlement
    on: dict[str, set[str]] = {}
    for qid, (rids, _s) in tl.placed.items():
        for rid in rids:
            on.setdefault(rid, set()).add(qid)
    waiting: dict[tuple[str, str], list[Request]] = {}
    for unit in units_of(prep):
        q = unit[0]
        if len(unit) == 1 and q.id not in tl.placed and (only is None or q.id in only):
            waiting.setdefault((q.tenant, prep.klass[q.id]), []).append(q)
    for lst in waiting.values():
        lst.sort(key=lambda q: (q.usage, q.deadline, q.id))
    chain_of = prep.chain_of()

    def share(key) -> float:
        return share_of(prep, key, tl)

    def place(q: Request, rids, s) -> None:
        tl.place(q, rids, s)
        for rid in rids:
            on.setdefault(rid, set()).add(q.id)

    def remove(q: Request):
        rids, s = tl.placed[q.id]
        tl.remove(q)
        for rid in rids:
            on[rid].discard(q.id)
        return rids, s

    def try_grant(q: Request, key) -> bool:
        left = tl.quota_left(*key)
        if left is not None and q.usage > left:
            return False
        spot = tl.find(q)
        if spot is not None:
            place(q, *spot)
            return True
        if q.nodes > 1:
            return False
        # Leximin step: every pair that gives something up must stay above this pair's
        # current share, so the sorted list of shares strictly improves (no cycling).
        floor_now = share(key)
        options = []
        for rid, ranges in prep.starts[q.id].items():
            r = problem.resource_by_id[rid]
            margin = max((t for *_x, t in r.changeovers), default=0)
            occ = [
                (tl.placed[o][1], tl.placed[o][1] + reqs[o].duration, reqs[o])
                for o in on.get(rid, ())
            ]
            for lo, hi in ranges:
                for s in range(lo, hi + 1):
                    a, b = s - margin, s + q.duration + margin
                    blockers = [o for os, oe, o in occ if os < b and a < oe]
                    seen = {o.id for o in blockers}
                    for o in list(blockers):  # a chain moves out whole
                        for m in chain_of.get(o.id, ()):
                            if m.id not in seen and m.id in tl.placed:
                                seen.add(m.id)
                                blockers.append(m)
                    lost: dict[tuple[str, str], int] = {}
                    for o in blockers:
                        okey = (o.tenant, prep.klass[o.id])
                        lost[okey] = lost.get(okey, 0) + o.usage
                    if key in lost or any(k not in ent for k in lost):
                        continue
                    risky = sum(
                        1 for k, u in lost.items() if (tl.usage[k] - u) / ent[k] <= floor_now
                    )
                    options.append((risky, sum(lost.values()), s, blockers))
        options.sort(key=lambda o: (o[0], o[1], o[2]))
        for _risky, _cost, s, blockers in options[:6]:
            if _move(q, s, blockers, floor_now):
                return True
        return False

    def _move(q: Request, s: int, blockers: list[Request], floor_now: float) -> bool:
        evicted = [(o, *remove(o)) for o in blockers]
        spot = tl.find(q, lo=s, hi=s)
        if spot is None:
            for o, rids, os in reversed(evicted):
                place(o, rids, os)
            return False
        place(q, *spot)
        replaced: list[Request] = []
        done: set[str] = set()
        for o, _r, _s in evicted:
            if o.id in done:
                continue
            unit = chain_of.get(o.id, [o])
            done.update(m.id for m in unit)
            if tl.place_unit(unit):
                for m in unit:
                    replaced.append(m)
                    for rid in tl.placed[m.id][0]:
                        on.setdefault(rid, set()).add(m.id)
        hurt = {(o.tenant, prep.klass[o.id]) for o, *_x in evicted if o.id not in tl.placed}
        if all(share(k) > floor_now for k in hurt):
            return True
        remove(q)
        for m in replaced:
            remove(m)
        for o, rids, os in reversed(evicted):
            place(o, rids, os)
        return False

    stuck: set[tuple[str, str]] = set()
    while time.perf_counter() < deadline:
        open_pairs = [
            k
            for k in waiting
            if waiting[k] and k not in stuck and tl.usage.get(k, 0) < prep.demand.get(k, 0)
        ]
        if not open_pairs:
            break
        key = min(open_pairs, key=lambda k: (share(k), k))
        for q in list(waiting[key]):
            if time.perf_counter() >= deadline:
                break
            if try_grant(q, key):
                waiting[key].remove(q)
                break
        else:
            stuck.add(key)
    return tl
