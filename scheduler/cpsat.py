"""The CP-SAT planner's staged solve (the model builders are in :mod:`scheduler.model`).

The solve is lexicographic (see ``scheduler.fairness.FAIRNESS_CONTRACT``):
stage 1 maximises the fair level z; stage 2 fixes z and maximises granted usage; stage 3 (when
time is left) fixes both and maximises priority and earliness. Each stage is hinted with the
previous stage's solution, the first one with the complete greedy fair plan; each stops as soon as
it is proven optimal (its time is a ceiling).

Changeovers are always exact: a model re-plans at most ``EXACT_CHANGEOVER_LIMIT`` runs per line
(worst-served tenants first) and the other runs stay fixed (:func:`exact_subset`). A floor bound
is reported only from a model of the whole round; otherwise it comes from a relaxation
(:func:`scheduler.bounds.relaxed_bound`).
"""

from __future__ import annotations

import math
import time
from collections.abc import Collection

from ortools.sat.python import cp_model

from scheduler.analysis import EXACT_CHANGEOVER_LIMIT, Prepared
from scheduler.fairness import fair_level, share_of
from scheduler.greedy import greedy_placements
from scheduler.model import (
    STATUS,
    Z_SCALE,
    _solver,
    add_fair_level,
    build,
    hint_from_solution,
    hint_from_timeline,
    hold_level,
    model_level,
    pair_level,
    preference_expr,
    usage_expr,
)
from scheduler.pipeline import (
    FEASIBLE,
    GREEDY_FALLBACK,
    OPTIMAL,
    SHARES,
    Budget,
    SolveFacts,
    SolveOptions,
    StageFact,
)
from scheduler.problem import PILOT_LINE
from scheduler.timeline import Timeline

__all__ = ["Z_SCALE", "exact_subset", "solve_prepared", "worst_served_order"]
# A model with more requests than this is large: its floor stages get less of its time (the
# improved hint already carries most of the floor), it solves at most two fairness levels and
# no preference stage.
LARGE_MODEL = 1000


def exact_subset(
    prep: Prepared,
    only: set[str] | None,
    order: list[str] | None = None,
    placed: Collection[str] = (),
) -> set[str] | None:
    """The requests of ``only`` (default: all) that one exact model can re-plan.

    A circuit per line is exact but grows with the square of its runs, and a worst-case reserve
    is not exact. So no line may carry more than ``EXACT_CHANGEOVER_LIMIT`` planned runs: the
    requests beyond it (all of them, or the last ones in ``order``) stay where they are, whole
    chains together. With an ``order``, the runs ``placed`` on a busy line come first (then the
    others in ``order``): runs held fixed where an earlier plan put them would fill the line and
    leave the worst-served tenants nothing to gain, so the model may move or free them.
    Returns ``None`` when nothing had to be left out of a whole-round model."""
    res = prep.problem.resource_by_id
    reqs = prep.problem.request_by_id
    ids = (
        {q.id for q in prep.problem.requests if prep.eligible(q.id)}
        if only is None
        else {q for q in only if prep.eligible(q)}
    )
    count: dict[str, list[str]] = {}
    for qid in ids:
        for rid in prep.starts[qid]:
            r = res[rid]
            if r.kind == PILOT_LINE and r.changeovers:
                count.setdefault(rid, []).append(qid)
    over = {rid for rid, qs in count.items() if len(qs) > EXACT_CHANGEOVER_LIMIT}
    if not over:
        return only
    rank = {q: i for i, q in enumerate(order or ())}
    placed = set(placed)
    drop: set[str] = set()
    for rid in sorted(over):
        qs = sorted(
            (q for q in count[rid] if q not in drop),
            key=lambda q: (q not in placed, rank.get(q, len(rank)), q),
        )
        keep = EXACT_CHANGEOVER_LIMIT if order else 0
        # (a request kept here may still be dropped for another of its lines)
        drop.update(qs[keep:])
    for qid in list(drop):
        chain = reqs[qid].chain
        if chain is not None:
            drop.update(m.id for m in prep.chains.get(chain, ()))
    return ids - drop


def worst_served_order(prep: Prepared, current: Timeline, only: set[str] | None) -> list[str]:
    """The requests of ``only`` (default: all) in the order a busy line's model takes them: the
    worst-served pairs' requests first, those not granted yet before the others. A tenant's
    requests rank with its worst-served pair: a chain links its classes, and a quota may need
    one of its requests out for another in (possibly of another class)."""
    reqs = prep.problem.request_by_id

    def share(qid: str) -> float:
        q = reqs[qid]
        key = (q.tenant, prep.klass[qid])
        have = current.usage.get(key, 0)
        if key not in prep.entitlement or have >= prep.demand.get(key, 0):
            return math.inf
        return share_of(prep, key, current)

    tenant_worst: dict[str, float] = {}
    for q in prep.problem.requests:
        if prep.eligible(q.id):
            tenant_worst[q.tenant] = min(tenant_worst.get(q.tenant, math.inf), share(q.id))

    def rank(qid: str) -> tuple:
        return (tenant_worst[reqs[qid].tenant], share(qid), qid in current.placed, qid)

    pool = only if only is not None else [q.id for q in prep.problem.requests]
    return sorted((q for q in pool if prep.eligible(q)), key=rank)


def solve_prepared(
    prep: Prepared,
    budget: Budget,
    *,
    current: Timeline | None = None,
    options: SolveOptions | None = None,
) -> tuple[Timeline, SolveFacts]:
    """Solve the staged model; returns the whole plan's placements and the solve facts.

    ``current``: a complete feasible plan (default: the greedy fair plan), used as hint and as
    the answer if CP-SAT finds nothing. ``options`` (:class:`scheduler.pipeline.SolveOptions`):
    which requests are re-planned and which stages run (default: all, every stage). Lines with too many runs for an exact
    model are left as they are (:func:`exact_subset`). The stages run in
    :meth:`_StagedSolve.floor`, :meth:`_StagedSolve.levels` and :meth:`_StagedSolve.hours`; each
    stops once it is proven. A bound on the floor is reported only when the model was the whole
    round."""
    options = options if options is not None else SolveOptions()
    current = current if current is not None else greedy_placements(prep)
    order = (
        options.order
        if options.order is not None
        else worst_served_order(prep, current, options.only)
    )
    placed = current.placed if options.placed_first else ()
    planned = exact_subset(prep, options.only, order, placed=placed)
    staged = _StagedSolve(prep, budget, current, options, planned)
    if not staged.v.g:
        return current, SolveFacts(status=OPTIMAL)
    staged.floor()
    if not options.floor_only:
        staged.levels()
        staged.hours()
    return staged.best, staged.result()


class _StagedSolve:
    """One CP-SAT model of the requests ``planned`` (``None``: the whole round, whose bounds are
    then proven), solved stage after stage; ``best`` is the best complete plan so far (a hint is
    always complete and feasible, so it starts as ``current``)."""

    def __init__(
        self,
        prep: Prepared,
        budget: Budget,
        current: Timeline,
        options: SolveOptions,
        planned: set[str] | None,
    ) -> None:
        self.prep, self.budget, self.options = prep, budget, options
        # Keep a little time for writing the reasons and figures of the plan.
        self.deadline = budget.end()
        self.fill_only = options.only
        self.complete = planned is None
        self.only = planned
        if planned is None:
            self.base, self.outside, fixed = Timeline(prep), {}, None
            outside_dims: dict = {}
        else:
            self.base = current.clone()
            reqs = prep.problem.request_by_id
            for qid in planned:
                if qid in self.base.placed:
                    self.base.remove(reqs[qid])
            self.outside, fixed = dict(self.base.usage), self.base
            outside_dims = dict(self.base.dims)
        self.model, self.v = build(prep, self.outside, planned, fixed, outside_dims=outside_dims)
        if options.hold_usage:
            for key in self.v.granted:
                hold_level(self.model, prep, self.v, key, current, "_held")
        hint_from_timeline(self.model, prep, self.v, current, self.outside)
        self.facts = SolveFacts(status=GREEDY_FALLBACK)
        self.best = current
        self.proven: list[bool] = []
        self.found = False  # did any CP-SAT stage return a solution?
        large = len(self.v.g) > LARGE_MODEL
        # Large models: the improved hint already carries most of the floor; the bulk of the
        # time goes to granting more hours.
        self.stage3 = options.stage3 and not large
        self.max_levels = min(options.max_levels, 2) if large else options.max_levels
        self.stage1_end = 0.0  # (set by the floor stage: when the further levels must end)
        self.z1 = 0  # (set by the floor stage: the floor level it reached, scaled)

    # -- helpers

    def solution(self, solver: cp_model.CpSolver) -> Timeline:
        """The solution's placements, plus anything that still fits (never removing any)."""
        prep, v = self.prep, self.v
        tl = self.base.clone()
        for qid, g in v.g.items():
            if solver.Value(g):
                rids = tuple(rid for rid in prep.starts[qid] if solver.Value(v.x[qid, rid]))
                tl.place(prep.problem.request_by_id[qid], rids, solver.Value(v.s[qid]))
        return greedy_placements(prep, tl, only=self.fill_only)

    def run(self, name: str, share: float) -> tuple[cp_model.CpSolver, int]:
        """Solve the model as it stands in ``share`` of the time left."""
        left = self.deadline - time.perf_counter()
        solver = _solver(left * share, self.budget.workers, self.budget.seed, len(self.v.g))
        t = time.perf_counter()
        code = solver.Solve(self.model)
        ok = code in (cp_model.OPTIMAL, cp_model.FEASIBLE)
        self.facts.stages.append(
            StageFact(
                name,
                STATUS.get(code, str(code)),
                round(time.perf_counter() - t, 3),
                solver.ObjectiveValue() if ok else None,
                solver.BestObjectiveBound() if ok else None,
            )
        )
        return solver, code

    def level_of(self, tl: Timeline, terms: dict) -> int:
        return model_level(self.prep, tl, terms)

    def holds_round_floor(self) -> bool:
        """Does this model hold the round's worst-served pair (its floor is the round's)?"""
        best = self.best
        return self.level_of(best, self.v.fair_terms) <= fair_level(self.prep, best) * Z_SCALE + 1

    # -- stages

    def floor(self) -> None:
        """Stage 1: the fairness floor z."""
        model, v, best = self.model, self.v, self.best
        model.Maximize(v.z)
        # The hint reaches its own level, so the optimum does too: saying so lets the solver fix
        # the pairs that must be served in full at once (the hint stays a solution).
        model.Add(v.z >= self.level_of(best, v.fair_terms))
        large = len(v.g) > LARGE_MODEL
        share, levels_share = (
            (SHARES.large_floor, SHARES.large_levels)
            if large
            else (SHARES.floor, SHARES.floor_levels)
        )
        if large and self.holds_round_floor():
            # This model's floor stage is the round's floor and usually ends, proven optimal, a
            # little before its usual share; a slow run gets more time (the later stages get
            # less only then).
            share = SHARES.big_floor
        if self.options.floor_only:
            share = SHARES.floor_only
        now = time.perf_counter()
        self.stage1_end = now + (self.deadline - now) * levels_share
        if self.options.floor_proven and self.holds_round_floor():
            # The plan's floor already meets a proven bound and this model holds it.
            self.facts.stages.append(StageFact("floor", OPTIMAL, 0.0))
            self.proven.append(True)
        else:
            solver, code = self.run("floor", share)
            if code in (cp_model.OPTIMAL, cp_model.FEASIBLE):
                self.found = True
                # A solve cut short (a busy machine, the hint not loaded yet) may return a plan
                # less fair than its hint: the floor never goes down.
                new = self.solution(solver)
                if self.level_of(new, v.fair_terms) >= self.level_of(self.best, v.fair_terms):
                    self.best = new
                if self.complete:
                    self.facts.bounds["floor"] = (solver.BestObjectiveBound() + 1) / Z_SCALE
            self.proven.append(code == cp_model.OPTIMAL)
        self.z1 = self.level_of(self.best, v.fair_terms)
        self.facts.objectives["floor_model"] = self.z1 / Z_SCALE

    def levels(self) -> None:
        """Further leximin levels, time permitting: the pairs sitting at the level reached keep
        at least what they have and the next level is raised for the others."""
        model, v, prep = self.model, self.v, self.prep
        model.Add(v.z >= self.z1)
        levels = [self.z1]
        limit = self.budget.limit
        while (
            len(levels) < self.max_levels and self.stage1_end - time.perf_counter() > 0.05 * limit
        ):
            z_now = levels[-1]
            open_keys = []
            for key, term in v.levels[-1][1].items():
                level = pair_level(prep, key, term, self.best)
                if level is not None and level <= z_now:
                    hold_level(model, prep, v, key, self.best, f"_frozen{len(levels)}")
                else:
                    open_keys.append(key)
            if not open_keys:
                break
            z_next = add_fair_level(model, prep, v, open_keys)
            model.Add(z_next >= z_now)
            model.Maximize(z_next)
            hint_from_timeline(model, prep, v, self.best, self.outside)
            now = time.perf_counter()
            share = (self.stage1_end - now) / (self.deadline - now)
            solver, code = self.run(f"floor_level_{len(levels) + 1}", share)
            if code in (cp_model.OPTIMAL, cp_model.FEASIBLE):
                self.found = True
                # A level stage cut short at its hint's level may return a plan with fewer
                # hours: the hint is kept then (it holds the same levels).
                new, terms = self.solution(solver), v.levels[-1][1]
                if self.level_of(new, terms) > self.level_of(self.best, terms) or sum(
                    new.usage.values()
                ) >= sum(self.best.usage.values()):
                    self.best = new
            zk = self.level_of(self.best, v.levels[-1][1])
            model.Add(z_next >= zk)
            levels.append(zk)
        self.facts.objectives["floor_levels"] = [z / Z_SCALE for z in levels]

    def hours(self) -> None:
        """Stage 2: granted usage with the fairness levels held, then stage 3 (time permitting):
        priority and earliness with the hours held too."""
        model, v, prep = self.model, self.v, self.prep
        # The hint is the best plan so far with every request that still fits added (which can
        # only raise each tenant's share).
        usage = usage_expr(prep, v)
        model.Maximize(usage)
        hint_from_timeline(model, prep, v, self.best, self.outside)
        solver, code = self.run("usage", SHARES.usage if self.stage3 else SHARES.usage_last)
        self.proven.append(code == cp_model.OPTIMAL)
        if code not in (cp_model.OPTIMAL, cp_model.FEASIBLE):
            return
        self.found = True
        # Likewise a usage stage cut short may return fewer hours than its hint (which holds
        # the same levels): the hint is kept then.
        new = self.solution(solver)
        took = sum(new.usage.values()) >= sum(self.best.usage.values())
        if took:
            self.best = new
        self.facts.bounds["granted_usage"] = solver.BestObjectiveBound()
        if took and self.stage3 and self.deadline - time.perf_counter() > 0.1 * self.budget.limit:
            model.Add(usage >= solver.Value(usage))
            model.Maximize(preference_expr(prep, v))
            hint_from_solution(model, v, solver)
            solver, code = self.run("preference", SHARES.preference)
            self.proven.append(code == cp_model.OPTIMAL)
            if code in (cp_model.OPTIMAL, cp_model.FEASIBLE):
                self.best = self.solution(solver)
                self.facts.objectives["preference"] = solver.ObjectiveValue()

    def result(self) -> SolveFacts:
        facts = self.facts
        facts.status = (
            OPTIMAL if all(self.proven) else (FEASIBLE if self.found else GREEDY_FALLBACK)
        )
        if self.options.floor_only:
            return facts  # (the floor with the busy lines' runs held is what was asked)
        if self.fill_only is None and not self.complete and facts.status == OPTIMAL:
            facts.status = FEASIBLE  # optimal only with the busy lines' runs held fixed
        return facts
