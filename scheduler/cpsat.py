"""The CP-SAT planner: model builders (one constraint family each) and the staged solve.

Variables (kept in dicts keyed by domain ids): ``g[request]`` granted, ``x[request, resource]``
placed on that resource, ``s[request]`` start slot, ``iv[request, resource]`` optional interval.
Calendars, maintenance and training are folded into the allowed start domains computed by
:mod:`scheduler.analysis`, so a start outside them is never even considered.

The solve is lexicographic (see ``scheduler.fairness.FAIRNESS_CONTRACT``):
stage 1 maximises the fair level z; stage 2 fixes z and maximises granted usage; stage 3 (when
time is left) fixes both and maximises priority and earliness. Each stage is hinted with the
previous stage's solution, the first one with the complete greedy fair plan.

Changeovers are always exact: a model re-plans at most ``EXACT_CHANGEOVER_LIMIT`` runs per line
(worst-served tenants first) and the other runs stay fixed (:func:`exact_subset`). A floor bound
is reported only from a model of the whole round; otherwise it comes from a relaxation
(:func:`scheduler.decompose.relaxed_bound`).
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from fractions import Fraction

from ortools.sat.python import cp_model
from ortools.util.python.sorted_interval_list import Domain

from scheduler.analysis import EXACT_CHANGEOVER_LIMIT, Prepared, Ranges
from scheduler.fairness import fair_level, floor_cap
from scheduler.greedy import greedy_placements
from scheduler.intervals import intersect, union_of
from scheduler.plan import Plan
from scheduler.problem import GPU_NODE, PILOT_LINE
from scheduler.reasons import make_plan
from scheduler.timeline import Timeline

Z_SCALE = 10_000  # the fair level z is an integer number of 1/10,000ths
STAGE1_SHARE = 0.3  # of the time left, for the floor
STAGE1_LEVELS_SHARE = 0.5  # of the time left, for the floor and the further leximin levels
# Of the time left, at most, for the floor stage of a large model holding the round's floor.
BIG_FLOOR_SHARE = 0.4
LARGE_LEVELS_SHARE = 0.35  # of the time left, for the floor and the next level of a large model


@dataclass
class Vars:
    g: dict[str, cp_model.IntVar] = field(default_factory=dict)
    x: dict[tuple[str, str], cp_model.IntVar] = field(default_factory=dict)
    s: dict[str, cp_model.IntVar] = field(default_factory=dict)
    iv: dict[tuple[str, str], cp_model.IntervalVar] = field(default_factory=dict)
    arcs: dict[str, dict[tuple[int, int], cp_model.IntVar]] = field(default_factory=dict)
    arc_nodes: dict[str, list[str]] = field(default_factory=dict)
    z: cp_model.IntVar | None = None
    fair_terms: dict[tuple[str, str], tuple[cp_model.IntVar, int, int, int]] = field(
        default_factory=dict
    )
    all: list[cp_model.IntVar] = field(default_factory=list)
    lo: dict[str, int] = field(default_factory=dict)
    granted: dict[tuple[str, str], object] = field(default_factory=dict)
    # Placements that stay as they are while a block of requests is re-planned:
    # resource -> [(start, end, units, recipe)].
    fixed: dict[str, list[tuple[int, int, int, str | None]]] = field(default_factory=dict)
    levels: list[tuple[cp_model.IntVar, dict]] = field(default_factory=list)
    relax_changeovers: bool = False  # for bounds: lines keep only "one run at a time"
    hi: dict[str, int] = field(default_factory=dict)


def _domain(ranges: Ranges) -> Domain:
    return Domain.FromIntervals([[lo, hi] for lo, hi in ranges])


# -- builders ------------------------------------------------------------------------------------
def add_requests(model: cp_model.CpModel, prep: Prepared, only: set[str] | None = None) -> Vars:
    """Start, granted and placement variables with one optional interval per candidate
    (for the requests in ``only``, when given)."""
    v = Vars()
    for q in prep.problem.requests:
        if not prep.eligible(q.id) or (only is not None and q.id not in only):
            continue
        per_res = prep.starts[q.id]
        union = (
            prep.gang_starts[q.id] if q.nodes > 1 else union_of(list(per_res.values()), closed=True)
        )
        s = model.NewIntVarFromDomain(_domain(union), f"s[{q.id}]")
        g = model.NewBoolVar(f"g[{q.id}]")
        v.s[q.id], v.g[q.id] = s, g
        v.lo[q.id], v.hi[q.id] = union[0][0], union[-1][1]
        v.all += [s, g]
        if len(per_res) == 1 and q.nodes == 1:
            (rid,) = per_res
            v.x[q.id, rid] = g
        else:
            for rid in per_res:
                v.x[q.id, rid] = model.NewBoolVar(f"x[{q.id},{rid}]")
                v.all.append(v.x[q.id, rid])
            model.Add(sum(v.x[q.id, rid] for rid in per_res) == q.nodes * g)
        for rid in per_res:
            v.iv[q.id, rid] = model.NewOptionalFixedSizeIntervalVar(
                s, q.duration, v.x[q.id, rid], f"iv[{q.id},{rid}]"
            )
    return v


def add_calendars(model: cp_model.CpModel, prep: Prepared, v: Vars) -> None:
    """Opening hours, shifts, maintenance and training: a start on a resource must be one the
    resource allows (only needed where that set is narrower than the request's overall one)."""
    for (qid, rid), x in v.x.items():
        ranges = prep.starts[qid][rid]
        q = prep.problem.request_by_id[qid]
        union = (
            prep.gang_starts[qid]
            if q.nodes > 1
            else union_of(list(prep.starts[qid].values()), closed=True)
        )
        if ranges != union:
            model.AddLinearExpressionInDomain(v.s[qid], _domain(ranges)).OnlyEnforceIf(x)


def _by_resource(v: Vars) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for qid, rid in v.iv:
        out.setdefault(rid, []).append(qid)
    return out


def add_capacity(model: cp_model.CpModel, prep: Prepared, v: Vars) -> None:
    """GPU nodes: cumulative over GPUs. Lines and instruments: no overlap (changeovers between
    runs on a line are added by :func:`add_changeovers`)."""
    reqs = prep.problem.request_by_id
    for rid, qids in _by_resource(v).items():
        r = prep.problem.resource_by_id[rid]
        ivs = [v.iv[q, rid] for q in qids]
        demands = [reqs[q].units for q in qids]
        for s, e, units, _recipe in v.fixed.get(rid, []):
            ivs.append(model.NewFixedSizeIntervalVar(s, e - s, f"fixed[{rid},{s}]"))
            demands.append(units)
        if r.kind == GPU_NODE and r.capacity > 1:
            if sum(demands) > r.capacity:
                model.AddCumulative(ivs, demands, r.capacity)
        elif len(ivs) > 1:
            model.AddNoOverlap(ivs)


def _line_mode(prep: Prepared, v: Vars, rid: str, planned: int) -> str | None:
    """How changeovers among the ``planned`` runs on a line are modelled: an exact circuit up
    to ``EXACT_CHANGEOVER_LIMIT`` runs, else a worst-case reserve (safe, wasteful; the planner
    keeps such lines out of its models, see :func:`exact_subset`)."""
    r = prep.problem.resource_by_id[rid]
    if v.relax_changeovers or r.kind != PILOT_LINE or not r.changeovers:
        return None
    return "exact" if planned <= EXACT_CHANGEOVER_LIMIT else "reserve"


def _between_fixed(r, q, fixed: list[tuple[int, int, int, str | None]]) -> Ranges:
    """Starts of run ``q`` on line ``r`` that keep the exact changeovers to the fixed runs."""
    out: Ranges = []
    lo = -(10**9)
    for fs, fe, _units, recipe in sorted(fixed):
        hi = fs - r.changeover(q.recipe, recipe) - q.duration
        if lo <= hi:
            out.append((lo, hi))
        lo = fe + r.changeover(recipe, q.recipe)
    out.append((lo, 10**9))
    return out


def add_changeovers(model: cp_model.CpModel, prep: Prepared, v: Vars) -> None:
    """Sequence-dependent changeovers on pilot lines, exact.

    Against runs that stay fixed (a re-planned block): each planned run may only start where
    the changeovers to the fixed runs before and after it fit. Among the planned runs: up to
    ``EXACT_CHANGEOVER_LIMIT`` of them, a circuit over the runs, each arc forcing the changeover
    between the two recipes. Beyond: every run reserves the worst changeover into its recipe
    just before it (safe, wasteful; :func:`exact_subset` keeps such lines out of models)."""
    reqs = prep.problem.request_by_id
    for rid, qids in _by_resource(v).items():
        r = prep.problem.resource_by_id[rid]
        mode = _line_mode(prep, v, rid, len(qids))
        if mode is None:
            continue
        fixed = v.fixed.get(rid, [])
        if fixed:
            for qid in qids:
                allowed = prep.starts[qid][rid]
                ranges = intersect(allowed, _between_fixed(r, reqs[qid], fixed), closed=True)
                if not ranges:
                    model.Add(v.x[qid, rid] == 0)
                elif ranges != allowed:
                    model.AddLinearExpressionInDomain(v.s[qid], _domain(ranges)).OnlyEnforceIf(
                        v.x[qid, rid]
                    )
        if mode == "reserve":
            ext = []
            for qid in qids:
                q = reqs[qid]
                pre = prep.worst_changeover_in.get((rid, q.recipe), 0)
                ext.append(
                    model.NewOptionalFixedSizeIntervalVar(
                        v.s[qid] - pre, q.duration + pre, v.x[qid, rid], f"ext[{qid},{rid}]"
                    )
                )
            if len(ext) > 1:
                model.AddNoOverlap(ext)
            continue
        if len(qids) < 2:
            continue
        arcs_lits: list[tuple[int, int, cp_model.IntVar]] = []
        arcs: dict[tuple[int, int], cp_model.IntVar] = {}
        empty = model.NewBoolVar(f"empty[{rid}]")
        v.all.append(empty)
        arcs[0, 0] = empty
        arcs_lits.append((0, 0, empty))
        for i, qi in enumerate(qids, start=1):
            a = reqs[qi]
            first = model.NewBoolVar(f"first[{rid},{qi}]")
            last = model.NewBoolVar(f"last[{rid},{qi}]")
            v.all += [first, last]
            arcs[0, i], arcs[i, 0] = first, last
            arcs_lits += [(0, i, first), (i, 0, last), (i, i, v.x[qi, rid].Not())]
            smin_a = v.lo[qi]
            for j, qj in enumerate(qids, start=1):
                if i == j:
                    continue
                b = reqs[qj]
                gap = r.changeover(a.recipe, b.recipe)
                if v.hi[qj] < smin_a + a.duration + gap:
                    continue  # b can never follow a
                lit = model.NewBoolVar(f"arc[{rid},{qi},{qj}]")
                v.all.append(lit)
                arcs[i, j] = lit
                arcs_lits.append((i, j, lit))
                model.Add(v.s[qj] >= v.s[qi] + a.duration + gap).OnlyEnforceIf(lit)
        model.AddCircuit(arcs_lits)
        v.arcs[rid] = arcs
        v.arc_nodes[rid] = qids


def add_chains(model: cp_model.CpModel, prep: Prepared, v: Vars) -> None:
    """Chains: all steps or none; each step after the previous, within its ``max_gap``."""
    for members in prep.chains.values():
        if len(members) < 2 or not all(m.id in v.g for m in members):
            continue
        g0 = v.g[members[0].id]
        for prev, nxt in zip(members, members[1:], strict=False):
            model.Add(v.g[nxt.id] == g0)
            end = v.s[prev.id] + prev.duration
            model.Add(v.s[nxt.id] >= end).OnlyEnforceIf(g0)
            if nxt.max_gap is not None:
                model.Add(v.s[nxt.id] <= end + nxt.max_gap).OnlyEnforceIf(g0)


def _pair_terms(prep: Prepared, v: Vars) -> dict[tuple[str, str], list[tuple[int, str]]]:
    out: dict[tuple[str, str], list[tuple[int, str]]] = {}
    for qid in v.g:
        q = prep.problem.request_by_id[qid]
        out.setdefault((q.tenant, prep.klass[qid]), []).append((q.usage, qid))
    return out


def add_quotas(
    model: cp_model.CpModel, prep: Prepared, v: Vars, outside: dict | None = None
) -> None:
    """Hard quotas per tenant and class (minus what is already granted ``outside``)."""
    outside = outside or {}
    tenants = prep.problem.tenant_by_id
    for (t, c), terms in _pair_terms(prep, v).items():
        quota = tenants[t].quota(c)
        if quota is None:
            continue
        left = quota - outside.get((t, c), 0)
        if sum(u for u, _ in terms) > left:
            model.Add(sum(u * v.g[qid] for u, qid in terms) <= left)


def add_fairness(
    model: cp_model.CpModel, prep: Prepared, v: Vars, outside: dict | None = None
) -> cp_model.IntVar:
    """The fair level z (scaled by ``Z_SCALE``): every tenant and class gets at least
    min(demand, z * entitlement). Entitlements are rational approximations num/den."""
    outside = outside or {}
    for key, terms in _pair_terms(prep, v).items():
        if key in prep.entitlement and prep.entitlement[key] > 0:
            v.granted[key] = sum(u * v.g[qid] for u, qid in terms) + outside.get(key, 0)
    return add_fair_level(model, prep, v, list(v.granted))


def add_fair_level(
    model: cp_model.CpModel, prep: Prepared, v: Vars, keys: list[tuple[str, str]]
) -> cp_model.IntVar:
    """One level of the (approximate) leximin: a new z over the given tenant/class pairs."""
    zcap = math.ceil(floor_cap(prep) * Z_SCALE) + 1
    level = len(v.levels)
    z = model.NewIntVar(0, zcap, f"z{level}")
    v.all.append(z)
    terms: dict[tuple[str, str], tuple[cp_model.IntVar, int, int, int]] = {}
    for key in keys:
        frac = Fraction(prep.entitlement[key]).limit_denominator(1000)
        num, den = frac.numerator, frac.denominator
        if num == 0:
            continue
        top = prep.demand[key] * Z_SCALE * den
        y = model.NewIntVar(0, top, f"y{level}[{key[0]},{key[1]}]")
        v.all.append(y)
        model.AddMinEquality(y, [top, z * num])
        model.Add(v.granted[key] * (Z_SCALE * den) >= y)
        terms[key] = (y, top, num, den)
    v.levels.append((z, terms))
    if level == 0:
        v.z, v.fair_terms = z, terms
    return z


def usage_expr(prep: Prepared, v: Vars):
    reqs = prep.problem.request_by_id
    return sum(reqs[qid].usage * g for qid, g in v.g.items())


def preference_expr(prep: Prepared, v: Vars):
    """Priority first (scaled above any earliness), then earlier starts."""
    reqs = prep.problem.request_by_id
    H = prep.problem.horizon
    big = H * max(1, len(v.g)) + 1
    prio = sum(reqs[qid].priority * g for qid, g in v.g.items())
    late = sum(s - v.lo[qid] for qid, s in v.s.items())
    return big * prio - late


def build(
    prep: Prepared,
    outside: dict | None = None,
    only: set[str] | None = None,
    fixed: Timeline | None = None,
    quota_outside: dict | None = None,
    relax_changeovers: bool = False,
) -> tuple[cp_model.CpModel, Vars]:
    """The whole model (without an objective). With ``only``, just those requests are planned;
    the placements in ``fixed`` (other requests) occupy their resources unchanged and
    ``outside`` is their usage per (tenant, class)."""
    model = cp_model.CpModel()
    v = add_requests(model, prep, only)
    v.relax_changeovers = relax_changeovers
    if fixed is not None:
        touched = {rid for _q, rid in v.iv}
        reqs = prep.problem.request_by_id
        margin = max((t for r in prep.problem.resources for *_x, t in r.changeovers), default=0)
        lo = min((v.lo[q] for q in v.g), default=0) - margin
        hi = max((v.hi[q] + reqs[q].duration for q in v.g), default=0) + margin
        for qid, (rids, start) in fixed.placed.items():
            q = reqs[qid]
            if start >= hi or start + q.duration <= lo:
                continue  # cannot meet any planned request
            for rid in rids:
                if rid in touched:
                    v.fixed.setdefault(rid, []).append(
                        (start, start + q.duration, q.units, q.recipe)
                    )
    add_calendars(model, prep, v)
    add_capacity(model, prep, v)
    add_changeovers(model, prep, v)
    add_chains(model, prep, v)
    add_quotas(model, prep, v, outside if quota_outside is None else quota_outside)
    add_fairness(model, prep, v, outside)
    return model, v


# -- hints ---------------------------------------------------------------------------------------
def hint_from_timeline(
    model: cp_model.CpModel, prep: Prepared, v: Vars, tl: Timeline, outside: dict | None = None
) -> None:
    """A complete hint from placements (normally the greedy fair plan)."""
    outside = outside or {}
    model.ClearHints()
    reqs = prep.problem.request_by_id
    for qid, g in v.g.items():
        placed = tl.placed.get(qid)
        model.AddHint(g, placed is not None)
        s = v.s[qid]
        model.AddHint(s, placed[1] if placed else v.lo[qid])
        for rid in prep.starts[qid]:
            x = v.x[qid, rid]
            if x is not g:
                model.AddHint(x, placed is not None and rid in placed[0])
    for rid, arcs in v.arcs.items():
        qids = v.arc_nodes[rid]
        on = sorted((tl.placed[q][1], i) for i, q in enumerate(qids, start=1) if q in tl.placed)
        chosen = set()
        if not on:
            chosen.add((0, 0))
        else:
            seq = [0] + [i for _, i in on] + [0]
            chosen.update(zip(seq, seq[1:], strict=False))
        for key, lit in arcs.items():
            model.AddHint(lit, key in chosen)
    granted: dict[tuple[str, str], int] = dict(outside)
    for qid in tl.placed:
        if qid in v.g:
            q = reqs[qid]
            key = (q.tenant, prep.klass[qid])
            granted[key] = granted.get(key, 0) + q.usage
    zcap = math.ceil(floor_cap(prep) * Z_SCALE) + 1
    for z_var, terms in v.levels:
        z = zcap
        for key, (_y, top, num, den) in terms.items():
            have = granted.get(key, 0) * Z_SCALE * den
            if have < top:
                z = min(z, have // num)
        model.AddHint(z_var, z)
        for y, top, num, _den in terms.values():
            model.AddHint(y, min(top, z * num))


def model_level(prep: Prepared, usage: dict, terms: dict) -> int:
    """The fair level (scaled) that ``usage`` reaches in the model over the pairs of ``terms``."""
    z = math.ceil(floor_cap(prep) * Z_SCALE) + 1
    for key, (_y, top, num, den) in terms.items():
        have = usage.get(key, 0) * Z_SCALE * den
        if have < top:
            z = min(z, have // num)
    return z


def hint_from_solution(model: cp_model.CpModel, v: Vars, solver: cp_model.CpSolver) -> None:
    model.ClearHints()
    for var in v.all:
        model.AddHint(var, solver.Value(var))


# -- solve ---------------------------------------------------------------------------------------
STATUS = {
    cp_model.OPTIMAL: "optimal",
    cp_model.FEASIBLE: "feasible",
    cp_model.INFEASIBLE: "infeasible",
    cp_model.MODEL_INVALID: "model_invalid",
    cp_model.UNKNOWN: "unknown",
}


def _solver(seconds: float, workers: int, seed: int, size: int) -> cp_model.CpSolver:
    solver = cp_model.CpSolver()
    p = solver.parameters
    p.max_time_in_seconds = max(0.05, seconds)
    p.num_workers = workers
    p.random_seed = seed
    if size >= 200:
        # Measured: on these models probing and symmetry detection in presolve can eat the
        # whole budget of a short solve before the hint is even loaded.
        p.cp_model_probing_level = 0
        p.symmetry_level = 0
    if size >= 1500:
        p.max_presolve_iterations = 1
    return solver


def exact_subset(
    prep: Prepared, only: set[str] | None, order: list[str] | None = None
) -> set[str] | None:
    """The requests of ``only`` (default: all) that one exact model can re-plan.

    A circuit per line is exact but grows with the square of its runs, and a worst-case reserve
    is not exact. So no line may carry more than ``EXACT_CHANGEOVER_LIMIT`` planned runs: the
    requests beyond it (all of them, or the last ones in ``order``) stay where they are, whole
    chains together. Returns ``None`` when nothing had to be left out of a whole-round model."""
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
    drop: set[str] = set()
    for rid in sorted(over):
        qs = sorted(
            (q for q in count[rid] if q not in drop), key=lambda q: (rank.get(q, len(rank)), q)
        )
        keep = EXACT_CHANGEOVER_LIMIT if order else 0
        # (a request kept here may still be dropped for another of its lines)
        drop.update(qs[keep:])
    for qid in list(drop):
        chain = reqs[qid].chain
        if chain is not None:
            drop.update(m.id for m in prep.chains.get(chain, ()))
    return ids - drop


def solve_prepared(
    prep: Prepared,
    *,
    time_limit: float = 10.0,
    workers: int = 2,
    seed: int = 0,
    started: float | None = None,
    current: Timeline | None = None,
    only: set[str] | None = None,
    stage3: bool = True,
    max_levels: int = 3,
    order: list[str] | None = None,
    floor_only: bool = False,
    floor_proven: bool = False,
    hold_usage: bool = False,
) -> tuple[Timeline, dict]:
    """Solve the staged model; returns the whole plan's placements and the solve facts.

    ``current``: a complete feasible plan (default: the greedy fair plan), used as hint and as
    the answer if CP-SAT finds nothing. ``only``: re-plan just these requests, everything else in
    ``current`` stays where it is (decomposition). Lines with too many runs for an exact model
    are left as they are (:func:`exact_subset`; ``order``: which requests to keep first, an
    empty one keeps all their runs fixed). ``floor_only``: just the floor stage, with all the
    time. ``floor_proven``: the round's floor in ``current`` meets a proven bound (the floor
    stage is skipped when this model holds it). ``hold_usage``: no tenant and class gets fewer
    hours than in ``current`` (every leximin level is kept). A bound on the floor is reported
    only when the model was the whole round."""
    t0 = time.perf_counter() if started is None else started
    # Keep a little time for writing the reasons and figures of the plan.
    deadline = t0 + time_limit * 0.97 - 0.1
    current = current if current is not None else greedy_placements(prep)
    fill_only = only
    if order is None:
        # The worst-served pairs' requests first (those not granted yet before the others).
        reqs = prep.problem.request_by_id

        def share(qid: str) -> float:
            q = reqs[qid]
            key = (q.tenant, prep.klass[qid])
            have = current.usage.get(key, 0)
            if key not in prep.entitlement or have >= prep.demand.get(key, 0):
                return math.inf
            return have / prep.entitlement[key]

        # A tenant's requests rank with its worst-served pair: a chain links its classes, and
        # a quota may need one of its requests out for another in (possibly of another class).
        tenant_worst: dict[str, float] = {}
        for q in prep.problem.requests:
            if prep.eligible(q.id):
                tenant_worst[q.tenant] = min(tenant_worst.get(q.tenant, math.inf), share(q.id))

        def rank(qid: str) -> tuple:
            return (tenant_worst[reqs[qid].tenant], share(qid), qid in current.placed, qid)

        pool = only if only is not None else [q.id for q in prep.problem.requests]
        order = sorted((q for q in pool if prep.eligible(q)), key=rank)
    planned = exact_subset(prep, only, order)
    complete = planned is None  # the whole round in one exact model: its bounds are proven
    only = planned
    if only is None:
        base, outside, fixed = Timeline(prep), {}, None
    else:
        base = current.clone()
        reqs = prep.problem.request_by_id
        for qid in only:
            if qid in base.placed:
                base.remove(reqs[qid])
        outside, fixed = dict(base.usage), base
    model, v = build(prep, outside, only, fixed)
    if hold_usage:
        for key, granted in v.granted.items():
            model.Add(granted >= current.usage.get(key, 0))
    hint_from_timeline(model, prep, v, current, outside)
    facts: dict = {"stages": [], "objectives": {}, "bounds": {}, "status": "greedy_fallback"}
    if not v.g:
        facts["status"] = "optimal"
        return current, facts

    def solution(solver: cp_model.CpSolver) -> Timeline:
        # The solution's placements, plus anything that still fits (never removing any).
        tl = base.clone()
        for qid, g in v.g.items():
            if solver.Value(g):
                rids = tuple(rid for rid in prep.starts[qid] if solver.Value(v.x[qid, rid]))
                tl.place(prep.problem.request_by_id[qid], rids, solver.Value(v.s[qid]))
        return greedy_placements(prep, tl, only=fill_only)

    def run(name: str, share: float):
        left = deadline - time.perf_counter()
        solver = _solver(left * share, workers, seed, len(v.g))
        t = time.perf_counter()
        code = solver.Solve(model)
        st = STATUS.get(code, str(code))
        info = {"stage": name, "status": st, "seconds": round(time.perf_counter() - t, 3)}
        if code in (cp_model.OPTIMAL, cp_model.FEASIBLE):
            info["objective"] = solver.ObjectiveValue()
            info["bound"] = solver.BestObjectiveBound()
        facts["stages"].append(info)
        return solver, code

    def level_of(tl: Timeline, terms: dict) -> int:
        return model_level(prep, tl.usage, terms)

    ok = (cp_model.OPTIMAL, cp_model.FEASIBLE)
    best = current  # the best complete plan so far (a hint is always complete and feasible)
    proven: list[bool] = []
    found = False  # did any CP-SAT stage return a solution?

    # Stage 1: fairness floor, then (time permitting) further leximin levels: the pairs sitting
    # at the floor keep at least what they have and the next level is raised for the others.
    model.Maximize(v.z)
    # The hint reaches its own level, so the optimum does too: saying so lets the solver fix the
    # pairs that must be served in full at once (the hint stays a solution).
    model.Add(v.z >= level_of(best, v.fair_terms))
    if len(v.g) > 1000:
        # Large parts: the improved hint already carries most of the floor; leave the bulk of
        # the time to granting more hours.
        stage3, max_levels = False, min(max_levels, 2)
    f1, fl = (STAGE1_SHARE, STAGE1_LEVELS_SHARE) if len(v.g) <= 1000 else (0.25, LARGE_LEVELS_SHARE)
    if (
        len(v.g) > 1000
        and level_of(best, v.fair_terms) <= fair_level(prep, best.usage) * Z_SCALE + 1
    ):
        # This model holds the round's worst-served pair: its floor stage is the round's floor
        # and usually ends, proven optimal, a little before its usual share; a slow run gets
        # more time (the later stages get less only then).
        f1 = BIG_FLOOR_SHARE
    if floor_only:
        f1 = 0.97
    stage1_end = time.perf_counter() + (deadline - time.perf_counter()) * fl
    if floor_proven and level_of(best, v.fair_terms) <= fair_level(prep, best.usage) * Z_SCALE + 1:
        # The plan's floor already meets a proven bound and this model holds it: nothing to do.
        facts["stages"].append({"stage": "floor", "status": "optimal", "seconds": 0.0})
        proven.append(True)
    else:
        solver, code = run("floor", f1)
        if code in ok:
            found = True
            # A solve cut short (a busy machine, the hint not loaded yet) may return a plan less
            # fair than its hint: the floor never goes down.
            new = solution(solver)
            if level_of(new, v.fair_terms) >= level_of(best, v.fair_terms):
                best = new
            if complete:
                facts["bounds"]["floor"] = (solver.BestObjectiveBound() + 1) / Z_SCALE
        proven.append(code == cp_model.OPTIMAL)
    z1 = level_of(best, v.fair_terms)
    facts["objectives"]["floor_model"] = z1 / Z_SCALE
    if floor_only:
        facts["status"] = "optimal" if proven[0] else ("feasible" if found else "greedy_fallback")
        return best, facts
    model.Add(v.z >= z1)
    levels = [z1]
    while len(levels) < max_levels and stage1_end - time.perf_counter() > 0.05 * time_limit:
        z_now = levels[-1]
        open_keys = []
        for key, (_y, top, num, den) in v.levels[-1][1].items():
            have = best.usage.get(key, 0)
            if have * Z_SCALE * den < top and have * Z_SCALE * den // num <= z_now:
                model.Add(v.granted[key] >= have)  # frozen at its level
            else:
                open_keys.append(key)
        if not open_keys:
            break
        z_next = add_fair_level(model, prep, v, open_keys)
        model.Add(z_next >= z_now)
        model.Maximize(z_next)
        hint_from_timeline(model, prep, v, best, outside)
        share = (stage1_end - time.perf_counter()) / (deadline - time.perf_counter())
        solver, code = run(f"floor_level_{len(levels) + 1}", share)
        if code in ok:
            found = True
            # A level stage cut short at its hint's level may return a plan with fewer hours:
            # the hint is kept then (it holds the same levels).
            new, terms = solution(solver), v.levels[-1][1]
            if level_of(new, terms) > level_of(best, terms) or sum(new.usage.values()) >= sum(
                best.usage.values()
            ):
                best = new
        zk = level_of(best, v.levels[-1][1])
        model.Add(z_next >= zk)
        levels.append(zk)
    facts["objectives"]["floor_levels"] = [z / Z_SCALE for z in levels]

    # Stage 2: granted usage with the floor held. The hint is the best plan so far with every
    # request that still fits added (which can only raise each tenant's share).
    usage = usage_expr(prep, v)
    model.Maximize(usage)
    hint_from_timeline(model, prep, v, best, outside)
    solver, code = run("usage", 0.75 if stage3 else 0.97)
    proven.append(code == cp_model.OPTIMAL)
    if code in ok:
        found = True
        # Likewise a usage stage cut short may return fewer hours than its hint (which holds
        # the same levels): the hint is kept then.
        new = solution(solver)
        took = sum(new.usage.values()) >= sum(best.usage.values())
        if took:
            best = new
        facts["bounds"]["granted_usage"] = solver.BestObjectiveBound()
        # Stage 3: priority and earliness with floor and usage held.
        if took and stage3 and deadline - time.perf_counter() > 0.1 * time_limit:
            model.Add(usage >= solver.Value(usage))
            model.Maximize(preference_expr(prep, v))
            hint_from_solution(model, v, solver)
            solver, code = run("preference", 0.97)
            proven.append(code == cp_model.OPTIMAL)
            if code in ok:
                best = solution(solver)
                facts["objectives"]["preference"] = solver.ObjectiveValue()
    facts["status"] = "optimal" if all(proven) else ("feasible" if found else "greedy_fallback")
    if fill_only is None and not complete and facts["status"] == "optimal":
        facts["status"] = "feasible"  # optimal only with the busy lines' runs held fixed
    return best, facts


def solve_cpsat(
    prep: Prepared,
    *,
    time_limit: float = 10.0,
    workers: int = 2,
    seed: int = 0,
    started: float | None = None,
    block_max: int | None = None,
) -> Plan:
    """The CP-SAT plan (solved part by part, see :mod:`scheduler.decompose`), or the greedy
    fair plan if CP-SAT finds nothing in time."""
    from scheduler.decompose import BLOCK_MAX, plan_parts

    t0 = time.perf_counter() if started is None else started
    tl, facts = plan_parts(
        prep,
        time_limit=time_limit,
        workers=workers,
        seed=seed,
        started=t0,
        block_max=block_max or BLOCK_MAX,
    )
    return make_plan(
        prep,
        tl,
        status=facts["status"],
        planner="cpsat",
        started=t0,
        objectives=facts["objectives"],
        bounds=facts["bounds"],
        stages=facts["stages"],
    )
