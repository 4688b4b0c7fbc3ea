"""Large neighbourhood search: re-plan small neighbourhoods of a plan exactly with CP-SAT.

:func:`floor_lns` raises the fairness floor around the worst-served pair; :func:`hours_lns` grants
more hours with every tenant and class keeping at least its hours. The rest of the plan stays
fixed in both, so the floor never drops.
"""

from __future__ import annotations

import random
import time

from scheduler.analysis import Prepared
from scheduler.cpsat import solve_prepared
from scheduler.fairness import fair_level, share_of
from scheduler.greedy import units_of
from scheduler.pipeline import OPTIMAL, Budget, SolveOptions
from scheduler.problem import Request
from scheduler.timeline import Timeline

# How far a floor neighbourhood is widened before its pair is given up: rings of requests that
# could make way (a full instrument day may have to shift by one slot).
WIDEST = 3


def floor_lns(
    prep: Prepared,
    current: Timeline,
    *,
    deadline: float,
    workers: int,
    seed: int,
    size: int = 150,
    step: float = 0.8,
    soft: float | None = None,
    patience: float = 0.0,
) -> Timeline:
    """Raise the floor by re-planning small neighbourhoods around the worst-served pair.

    ``soft`` (a ``time.perf_counter()`` moment before ``deadline``): from then on, stop once the
    floor has not risen for ``patience`` seconds (the time left goes to the later stages, which
    grant hours); until ``deadline`` while it still rises.

    The neighbourhood is the pair's waiting requests plus everything placed on their candidate
    resources around their windows; CP-SAT re-plans it exactly with the rest of the plan fixed
    (floor of the pairs involved first, then hours), so the round's floor never drops. A pair
    whose share does not rise is set aside and the next-worst one is tried.
    """

    reqs = prep.problem.request_by_id
    chain_of = prep.chain_of()
    waiting: dict[tuple[str, str], list[Request]] = {}
    for unit in units_of(prep):
        for q in unit:
            waiting.setdefault((q.tenant, prep.klass[q.id]), []).append(q)
    stuck: set[tuple[str, str]] = set()
    tries: dict[tuple[str, str], int] = {}
    width: dict[tuple[str, str], int] = {}
    level, rose = fair_level(prep, current), time.perf_counter()
    while deadline - time.perf_counter() > 0.3:
        now, reached = time.perf_counter(), fair_level(prep, current)
        if reached > level + 1e-12:
            level, rose = reached, now
        if soft is not None and now >= soft and now - rose >= patience:
            break
        usage = dict(current.usage)
        was = current

        def share(k, tl=was):
            return share_of(prep, k, tl)

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
            Budget.start(
                min(step * (tries[key] + width.get(key, 1) - 1), left), workers=workers, seed=seed
            ),
            current=current,
            options=SolveOptions(only=hood.ids, stage3=False, max_levels=1, order=hood.order),
        )
        if share(key, new) > before + 1e-12 or (
            fair_level(prep, new) >= fair_level(prep, current)
            and sum(new.usage.values()) >= sum(current.usage.values())
        ):
            current = new  # (a solve cut short that only lost hours is not kept)
        if share(key, current) <= before + 1e-12:
            # Proven stuck in this neighbourhood, or already given a longer second try: widen
            # it (the requests that could make way for the ones around it), up to WIDEST.
            if facts.status == OPTIMAL or tries[key] >= 2:
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
            Budget.start(min(step, deadline - time.perf_counter()), workers=workers, seed=seed),
            current=current,
            options=SolveOptions(
                only=hood.ids, stage3=False, max_levels=1, order=hood.order, hold_usage=True
            ),
        )
        if fair_level(prep, new) >= fair_level(prep, current) and sum(new.usage.values()) > sum(
            current.usage.values()
        ):
            current = new
        elif sub.status == OPTIMAL:
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
