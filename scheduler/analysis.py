"""Static facts about a problem, computed once and shared by every planner and the validator.

For each request and candidate resource: the set of allowed start slots, i.e. starts where the
booking lies in the request's window, in the resource's open periods, outside maintenance and
(if the resource needs one) inside a valid training of the user. Requests with no allowed start
anywhere get a static reason and are never granted. Also here: effective demand, capacity per
class and entitlements, which define the fairness contract (see :mod:`scheduler.fairness`).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from scheduler.intervals import intersect
from scheduler.problem import GPU_NODE, PILOT_LINE, Problem, Request, Resource, check_problem

Ranges = list[tuple[int, int]]  # inclusive start ranges [lo, hi]

# A CP-SAT model sequences at most this many runs on one line (an exact circuit); the runs of a
# busier line beyond it stay where the current plan has them (scheduler.cpsat.exact_subset).
# ``Prepared.changeover_mode`` records which lines are that busy in the whole round.
EXACT_CHANGEOVER_LIMIT = 40


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


def ranges_contain(ranges: Ranges, s: int) -> bool:
    return any(lo <= s <= hi for lo, hi in ranges)


@dataclass
class Prepared:
    """Shared static analysis of a checked problem."""

    problem: Problem
    starts: dict[str, dict[str, Ranges]] = field(default_factory=dict)
    gang_starts: dict[str, Ranges] = field(default_factory=dict)
    static_reason: dict[str, tuple[str, dict]] = field(default_factory=dict)
    klass: dict[str, str] = field(default_factory=dict)
    capacity: dict[str, int] = field(default_factory=dict)
    demand: dict[tuple[str, str], int] = field(default_factory=dict)
    entitlement: dict[tuple[str, str], float] = field(default_factory=dict)
    chains: dict[str, list[Request]] = field(default_factory=dict)
    changeover_mode: dict[str, str] = field(default_factory=dict)
    worst_changeover_in: dict[tuple[str, str], int] = field(default_factory=dict)
    free: dict[str, list[tuple[int, int]]] = field(default_factory=dict)
    # Per tenant and class, the requests whose total is the demand (the tenant alone in the
    # round, the best subset under its quota): the planners try these first, so a quota is not
    # used up by a request that keeps the tenant from ever reaching its demand.
    demand_set: dict[tuple[str, str], frozenset[str]] = field(default_factory=dict)
    cache: dict = field(default_factory=dict)

    def chain_of(self) -> dict[str, list[Request]]:
        """Each chained request's whole chain (chains of two or more steps), by request id."""
        if "chain_of" not in self.cache:
            self.cache["chain_of"] = {
                q.id: m for m in self.chains.values() if len(m) > 1 for q in m
            }
        return self.cache["chain_of"]

    def resource_rows(self) -> dict[str, int]:
        if "rows" not in self.cache:
            self.cache["rows"] = {r.id: i for i, r in enumerate(self.problem.resources)}
        return self.cache["rows"]

    def candidate_info(self, request_id: str):
        """Row indices and capacities of a request's candidates, and the candidates grouped by
        identical start ranges (for the timeline's vectorised search)."""
        info = self.cache.get(request_id)
        if info is None:
            import numpy as np

            rows = self.resource_rows()
            rids = list(self.starts[request_id])
            res = self.problem.resource_by_id
            idx = np.array([rows[r] for r in rids], dtype=np.intp)
            caps = np.array([res[r].capacity for r in rids], dtype=np.int32)
            groups: dict[tuple, list[int]] = {}
            for i, r in enumerate(rids):
                groups.setdefault(tuple(self.starts[request_id][r]), []).append(i)
            info = (idx, caps, [(k, np.array(v, dtype=np.intp)) for k, v in groups.items()])
            self.cache[request_id] = info
        return info

    def eligible(self, request_id: str) -> bool:
        return request_id not in self.static_reason

    def changeover_gap(self, resource: Resource, before: str | None, after: str | None) -> int:
        """Gap the planners keep between consecutive runs: the exact changeover (a worst-case
        reserve here wasted about a third of the line hours of a busy week)."""
        if resource.kind != PILOT_LINE or not resource.changeovers:
            return 0
        return resource.changeover(before, after)


def _training_periods(problem: Problem, user: str, training: str) -> list[tuple[int, int]]:
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


def prepare(problem: Problem, *, check: bool = True) -> Prepared:
    """Check the problem (raising :class:`ProblemError`) and compute its static facts."""
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
        if r.kind == PILOT_LINE:
            for recipe in r.recipes:
                prep.worst_changeover_in[(r.id, recipe)] = max(
                    (t for a, b, t in r.changeovers if b == recipe and a != recipe), default=0
                )

    tenants = problem.tenant_by_id
    free_key = {rid: tuple(p) for rid, p in prep.free.items()}
    memo: dict[tuple, tuple[Ranges, bool]] = {}
    for q in problem.requests:
        prep.klass[q.id] = res[q.resources[0]].resource_class
        per_res: dict[str, Ranges] = {}
        training_blocked = min_run_blocked = 0
        window = [(q.earliest, q.deadline)]
        for rid in q.resources:
            r = res[rid]
            if r.min_run and q.duration < r.min_run:
                min_run_blocked += 1
                continue
            need = r.required_training
            key = (free_key[rid], q.earliest, q.deadline, q.duration, need and q.user, need)
            if key not in memo:
                periods = intersect(prep.free[rid], window)
                starts = _starts(periods, q.duration)
                blocked = False
                if starts and r.required_training:
                    valid = _training_periods(problem, q.user, r.required_training)
                    starts = _starts(intersect(periods, valid), q.duration)
                    blocked = not starts
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
            else:
                prep.static_reason[q.id] = ("no_feasible_start", {})
        elif quota is not None and q.usage > quota:
            prep.static_reason[q.id] = ("quota_exhausted", {"quota": quota})
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
    _drop_impossible_chains(prep)
    prep.demand = attainable_demand(prep)
    # Weights are normalised over the tenants that want something in the class, so a tenant
    # with no demand neither gains nor dilutes anyone's entitlement.
    weight_sum: dict[str, float] = {}
    for (t, c), d in prep.demand.items():
        if d > 0:
            weight_sum[c] = weight_sum.get(c, 0.0) + tenants[t].weight
    for (t, c), d in prep.demand.items():
        if d > 0:
            prep.entitlement[(t, c)] = tenants[t].weight / weight_sum[c] * prep.capacity[c]

    return prep


def _drop_impossible_chains(prep: Prepared) -> None:
    """A chain whose steps cannot be placed together even in an empty round is refused."""
    from scheduler.timeline import Timeline  # the timeline needs this module

    for cid, members in prep.chains.items():
        if len(members) < 2 or any(m.id in prep.static_reason for m in members):
            continue
        if not Timeline(prep).place_unit(members, quotas=False, tries=500):
            for m in members:
                prep.static_reason[m.id] = ("chain_unplaceable", {"chain": cid})


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


def attainable_demand(prep: Prepared) -> dict[tuple[str, str], int]:
    """Demand per tenant and class that the tenant could be granted if it were alone.

    Its eligible requests are placed one by one (most important first, earliest start) in an
    otherwise empty round, chains as a whole; what does not fit next to its own requests does not
    count. The total is then capped by the largest sum of those requests that fits the quota.
    Requests are indivisible, so "min(demand, quota)" could be unreachable; this keeps the
    fairness floor from being dragged down by demand nobody could ever meet."""
    from scheduler.timeline import Timeline  # the timeline needs this module

    problem = prep.problem
    tenants = problem.tenant_by_id
    order = {q.id: i for i, q in enumerate(problem.requests)}
    units: dict[str, list[list[Request]]] = {}
    seen: set[str] = set()
    for q in problem.requests:
        if q.id in prep.static_reason:
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
        for c, items in placed.items():
            quota = tenants[t].quota(c)
            total, chosen = _best_subset(
                items, sum(v for v, _ in items) if quota is None else quota
            )
            if total > 0:
                out[(t, c)] = total
                prep.demand_set[(t, c)] = frozenset(chosen)
    return out


def is_gpu(resource: Resource) -> bool:
    return resource.kind == GPU_NODE
