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
from scheduler.plan import Plan
from scheduler.problem import Problem, Request
from scheduler.reasons import make_plan
from scheduler.timeline import Timeline


def units_of(prep: Prepared) -> list[list[Request]]:
    """Eligible requests grouped into placement units (a single request or a whole chain),
    in request order."""
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
    return units


def greedy_placements(prep: Prepared, timeline: Timeline | None = None) -> Timeline:
    """Fill a timeline by weighted progressive filling; returns it."""
    tl = timeline or Timeline(prep)
    order = {q.id: i for i, q in enumerate(prep.problem.requests)}
    queues: dict[tuple[str, str], list[list[Request]]] = {}
    for unit in units_of(prep):
        head = unit[0]
        if head.id in tl.placed:
            continue
        queues.setdefault((head.tenant, prep.klass[head.id]), []).append(unit)
    for units in queues.values():
        # Most important first; then the tightest deadline; then request order.
        units.sort(key=lambda u: (-u[0].priority, u[0].deadline, u[0].earliest, order[u[0].id]))
        units.reverse()  # pop() from the end
    tenant_rank = {t.id: i for i, t in enumerate(prep.problem.tenants)}

    def ratio(key: tuple[str, str]) -> float:
        return tl.usage.get(key, 0) / prep.entitlement[key]

    heap = [(ratio(k), tenant_rank[k[0]], k[1], k) for k in queues]
    heapq.heapify(heap)
    while heap:
        r, rank, c, key = heapq.heappop(heap)
        now = ratio(key)
        if now > r + 1e-12:
            heapq.heappush(heap, (now, rank, c, key))
            continue
        queue = queues[key]
        tl.place_unit(queue.pop())
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
