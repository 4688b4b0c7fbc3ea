"""Re-planning a published round after a change, keeping every rule.

``replan(problem, published, change)`` starts from the published plan. The confirmed bookings
(the plan's granted requests) stay exactly where they are, as runs that keep their recipes, so
the changeovers to and from them hold; only the waitlist and the bookings the change displaced
are planned again, with the held bookings' hours counted in the tenants' quotas and shares.

* A chain is all or nothing over all its steps, whatever they are: a chain with a held step
  stays as it is; if the change displaces one of its steps, the step is planned again next to
  its held partners (which stay put) or the whole chain loses its place. A chain with a step
  refused for good (``refused``) is never granted.
* Only the requests that could still fit next to the held bookings are put in the model, so a
  re-plan on a large round is a small model; every stage stops as soon as it is proven.
* Fairness: the fair level of the requests being planned is raised first (with the held hours
  counted), then the granted hours, then priority and earliness, as in a full solve.
"""

from __future__ import annotations

import time
from collections.abc import Collection, Sequence
from dataclasses import dataclass, replace

from scheduler.analysis import (
    Prepared,
    free_periods,
    prepare,
    training_periods,
)
from scheduler.cpsat import solve_prepared
from scheduler.demand import refine_demand
from scheduler.greedy import greedy_placements, units_of
from scheduler.pipeline import OPTIMAL, Budget, SolveFacts, SolveOptions
from scheduler.plan import Plan
from scheduler.problem import Problem, ProblemError, Request, Training, check_problem
from scheduler.reasons import make_plan
from scheduler.timeline import Timeline


@dataclass(frozen=True, slots=True)
class Cancellation:
    """A request is withdrawn (a confirmed booking cancelled or a waitlisted request dropped).
    A chained request withdraws its whole chain: its steps make sense only together."""

    request: str


@dataclass(frozen=True, slots=True)
class MaintenanceAdded:
    """Maintenance on ``resource`` in slots ``[start, end)``."""

    resource: str
    start: int
    end: int


@dataclass(frozen=True, slots=True)
class LineDown:
    """``resource`` is out of service from ``start`` until ``end`` (``None``: the round's end)."""

    resource: str
    start: int
    end: int | None = None


@dataclass(frozen=True, slots=True)
class TrainingExpired:
    """``user``'s ``training`` is no longer valid from slot ``at`` on."""

    user: str
    training: str
    at: int


Change = Cancellation | MaintenanceAdded | LineDown | TrainingExpired


@dataclass
class Replan:
    """The outcome of a re-plan.

    ``problem``: the round after the change, which ``plan`` is valid for (``validate(problem,
    plan)``). ``held``: confirmed bookings kept where they were. ``promoted``: waiting requests
    now granted. ``moved``: confirmed bookings the change displaced, granted elsewhere.
    ``released``: confirmed bookings that lost their place (displaced with no room left, or a
    chain partner of one). ``withdrawn``: requests the change removed (a cancelled request and
    the rest of its chain)."""

    problem: Problem
    plan: Plan
    held: tuple[str, ...] = ()
    promoted: tuple[str, ...] = ()
    moved: tuple[str, ...] = ()
    released: tuple[str, ...] = ()
    withdrawn: tuple[str, ...] = ()


# -- the change --------------------------------------------------------------------------------
def _with_maintenance(problem: Problem, rid: str, start: int, end: int, where: str) -> Problem:
    if rid not in problem.resource_by_id:
        raise ProblemError("unknown_resource", f"{where}.resource", f"no resource {rid!r}")
    if end <= start:
        raise ProblemError("bad_period", where, f"period [{start}, {end}) is empty")
    resources = tuple(
        replace(r, maintenance=(*r.maintenance, (start, end))) if r.id == rid else r
        for r in problem.resources
    )
    return problem.replace(resources=resources)


def apply_change(problem: Problem, change: Change) -> tuple[Problem, tuple[str, ...]]:
    """The problem after ``change`` and the requests it withdrew."""
    if isinstance(change, Cancellation):
        q = problem.request_by_id.get(change.request)
        if q is None:
            raise ProblemError(
                "unknown_request", "change.request", f"no request {change.request!r}"
            )
        gone = {q.id}
        if q.chain is not None:
            gone |= {m.id for m in problem.requests if m.chain == q.chain}
        kept = tuple(m for m in problem.requests if m.id not in gone)
        withdrawn = tuple(m.id for m in problem.requests if m.id in gone)
        return problem.replace(requests=kept), withdrawn
    if isinstance(change, MaintenanceAdded):
        return _with_maintenance(problem, change.resource, change.start, change.end, "change"), ()
    if isinstance(change, LineDown):
        end = problem.horizon if change.end is None else change.end
        return _with_maintenance(problem, change.resource, change.start, end, "change"), ()
    if isinstance(change, TrainingExpired):
        hits = [
            t for t in problem.trainings if t.user == change.user and t.training == change.training
        ]
        if not hits:
            raise ProblemError(
                "unknown_training",
                "change.training",
                f"user {change.user!r} holds no {change.training!r} training",
            )
        trainings = tuple(
            Training(t.user, t.training, t.valid_from, max(t.valid_from, change.at))
            if t in hits and t.valid_until > change.at
            else t
            for t in problem.trainings
        )
        return problem.replace(trainings=trainings), ()
    raise TypeError(f"not a change: {change!r}")


def _refusal(published: Plan, q: Request) -> tuple[str, dict]:
    """The reason a request refused for good keeps: its published one where it has one."""
    a = published.assignments.get(q.id)
    if a is not None and not a.granted and a.reason:
        return a.reason, dict(a.params)
    if q.chain is not None:
        return "chain_unplaceable", {"chain": q.chain}
    return "no_feasible_start", {}


# -- what stays ----------------------------------------------------------------------------------
def placement_allowed(
    problem: Problem,
    q: Request,
    resources: tuple[str, ...],
    start: int,
    free: dict[str, list[tuple[int, int]]] | None = None,
) -> bool:
    """Whether ``q`` may still lie on ``resources`` from ``start`` on its own: window, the
    round, opening hours, maintenance and training (capacity is the caller's business).
    ``free``: a cache of each resource's free periods."""
    free = {} if free is None else free
    end = start + q.duration
    if start < max(0, q.earliest) or end > min(q.deadline, problem.horizon):
        return False
    if len(resources) != q.nodes or len(set(resources)) != q.nodes:
        return False
    res = problem.resource_by_id
    for rid in resources:
        if rid not in q.resources:
            return False
        r = res[rid]
        if rid not in free:
            free[rid] = free_periods(r, problem.horizon)
        if not any(a <= start and end <= b for a, b in free[rid]):
            return False
        if r.min_run and q.duration < r.min_run:
            return False
        step, offset = problem.grid(r)
        if (start - offset) % step or (end - offset) % step:
            return False
        if r.required_training:
            valid = training_periods(problem, q.user, r.required_training)
            if not any(a <= start and end <= b for a, b in valid):
                return False
    return True


def _pin(prep: Prepared, q: Request, resources: tuple[str, ...], start: int) -> None:
    """Only the held placement is allowed for ``q`` (a held step of a chain being re-planned)."""
    prep.starts[q.id] = {rid: [(start, start)] for rid in resources}
    if q.nodes > 1:
        prep.gang_starts[q.id] = [(start, start)]
    prep.cache.pop(q.id, None)
    prep.cache.pop(("line", q.id), None)


def _demand(prep: Prepared, published: Plan, tenants: set[str]) -> None:
    """The demand alone of the tenants re-planned: as published (the round's fairness levels
    are kept), never above what they still ask; computed when the plan does not carry it."""
    known = published.figures.get("demand") if published.figures else None
    if not known:
        refine_demand(prep, tenants)
        return
    for key in list(prep.demand):
        if key[0] in tenants:
            was = known.get(f"{key[0]}/{key[1]}")
            if was is None:
                refine_demand(prep, tenants)
                return
            prep.demand[key] = min(prep.demand[key], int(was))


# Reasons under which a waiting request had no room next to the published plan's bookings.
NO_ROOM = frozenset({"capacity_full", "capacity_to_fairer_share", "quota_exhausted"})


def _candidates(
    problem: Problem, published: Plan, prep: Prepared, base: Timeline, held: set[str]
) -> set[str]:
    """The requests that could still be granted next to the held bookings in ``base``: adding
    bookings never makes room, so nothing else can be. Searched only among those the change
    may concern: near the time the change freed, of tenants whose hours (so quota) dropped,
    chains, and requests that did not wait for lack of room."""
    before = problem.request_by_id
    reqs = prep.problem.request_by_id
    freed: dict[str, list[tuple[int, int]]] = {}
    tenants: set[str] = set()
    for qid, a in published.assignments.items():
        if a.granted and qid not in held and qid in before and a.start is not None:
            tenants.add(before[qid].tenant)
            for rid in a.resources:
                freed.setdefault(rid, []).append((a.start, a.start + before[qid].duration))
    res = prep.problem.resource_by_id

    def concerned(q: Request) -> bool:
        a = published.assignments.get(q.id)
        if a is None or a.granted or a.reason not in NO_ROOM or q.tenant in tenants:
            return True
        for rid in prep.starts[q.id]:
            margin = max((t for *_x, t in res[rid].changeovers), default=0)
            for s, e in freed.get(rid, ()):
                if s < q.deadline + margin and q.earliest - margin < e:
                    return True
        return False

    out: set[str] = set()
    for unit in units_of(prep):
        if any(q.id in base.placed for q in unit):
            continue
        if (len(unit) > 1 or concerned(unit[0])) and all(base.find(q) for q in unit):
            out.update(q.id for q in unit)
    return out & reqs.keys()


def replan(
    problem: Problem,
    published: Plan,
    change: Change | Sequence[Change] | None,
    *,
    now: int = 0,
    refused: Collection[str] = (),
    refused_chains: Collection[str] = (),
    time_limit: float = 2.0,
    workers: int = 2,
    seed: int = 0,
) -> Replan:
    """Re-plan a published round after ``change`` (several: applied in turn; ``None``: re-plan
    the waitlist as it is).

    In: the ``problem`` the round was published for, its ``published`` plan (granted =
    confirmed bookings), the change; ``now``: the slot before which nothing new may start;
    ``refused``: request ids refused for good (never granted, nor their chains);
    ``refused_chains``: chain ids with a step refused outside ``problem``.
    Out: a :class:`Replan` whose plan keeps every rule over ``Replan.problem``.
    Raises :class:`ProblemError` for a change naming an unknown request, resource or training.
    The time limit is a ceiling: a re-plan whose stages are proven returns at once."""
    t0 = time.perf_counter()
    changes = () if change is None else change if isinstance(change, tuple | list) else (change,)
    changed, withdrawn = problem, ()
    for one in changes:
        changed, gone = apply_change(changed, one)
        withdrawn += gone
    check_problem(changed)
    reqs = changed.request_by_id
    refused = set(refused)
    refused_chains = set(refused_chains)

    held: dict[str, tuple[tuple[str, ...], int]] = {}
    displaced: set[str] = set()
    free: dict[str, list[tuple[int, int]]] = {}
    for qid, a in published.assignments.items():
        if not a.granted or qid not in reqs or a.start is None:
            continue
        q = reqs[qid]
        if qid in refused or (q.chain is not None and q.chain in refused_chains):
            displaced.add(qid)  # refused now: it cannot stay
        elif placement_allowed(changed, q, tuple(a.resources), a.start, free):
            held[qid] = (tuple(a.resources), a.start)
        else:
            displaced.add(qid)

    # What is planned again may not start before ``now``: the windows are narrowed for the
    # model (the plan stays valid for the wider windows of ``changed``).
    excluded: dict[str, tuple[str, dict]] = {}
    narrowed = []
    for q in changed.requests:
        if q.id in held:
            narrowed.append(q)
            continue
        if q.id in refused or (q.chain is not None and q.chain in refused_chains):
            excluded[q.id] = _refusal(published, q)
        if q.earliest >= now:
            narrowed.append(q)
        elif q.deadline - now < q.duration:
            excluded.setdefault(q.id, ("no_feasible_start", {"window_passed": True}))
            narrowed.append(q)
        else:
            narrowed.append(replace(q, earliest=now))
    planned = changed.replace(requests=tuple(narrowed))
    # Demand alone is computed below only for the tenants whose requests are planned.
    prep = prepare(planned, check=False, excluded=excluded, demand_of=(), check_chains=False)

    # A chain with a displaced or waiting step next to held ones: the held steps are pinned
    # where they are and the chain is planned again as a whole.
    chain_of = prep.chain_of()
    broken: set[str] = set()
    for qid in held:
        members = chain_of.get(qid, ())
        if any(m.id not in held for m in members):
            broken.update(m.id for m in members)
    for qid in broken & held.keys():
        _pin(prep, reqs[qid], *held[qid])
    base = Timeline(prep)
    for qid, (rids, start) in held.items():
        if qid not in broken and prep.eligible(qid):
            base.place(reqs[qid], rids, start)

    candidates = _candidates(problem, published, prep, base, set(held) - broken)
    no_room = (
        {q.id for q in changed.requests if prep.eligible(q.id)} - candidates - set(base.placed)
    )
    _demand(prep, published, {reqs[qid].tenant for qid in candidates})
    current = base.clone()
    for unit in units_of(prep):  # broken chains first: their held steps want to stay
        if unit[0].id in candidates and any(q.id in broken for q in unit):
            current.place_unit(unit, tries=200)
    current = greedy_placements(prep, current, only=candidates)
    if candidates:
        left = time_limit - (time.perf_counter() - t0)
        current, facts = solve_prepared(
            prep,
            Budget.start(max(0.2, left), workers=workers, seed=seed),
            current=current,
            options=SolveOptions(only=candidates),
        )
    else:
        facts = SolveFacts(status=OPTIMAL)
    plan = make_plan(
        prep,
        current,
        status=facts.status,
        planner="replan",
        started=t0,
        objectives=facts.objectives,
        stages=facts.stage_dicts(),
        no_room=no_room,
        keep=held,
    )
    was = {qid for qid, a in published.assignments.items() if a.granted}
    now_granted = set(current.placed)
    order = [q.id for q in changed.requests]
    return Replan(
        problem=changed,
        plan=plan,
        held=tuple(q for q in order if q in held and current.placed.get(q) == held[q]),
        promoted=tuple(q for q in order if q in now_granted and q not in was),
        moved=tuple(
            q for q in order if q in now_granted and q in was and current.placed[q] != held.get(q)
        ),
        released=tuple(q for q in order if q in was and q not in now_granted),
        withdrawn=withdrawn,
    )
