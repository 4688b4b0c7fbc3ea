"""CP-SAT model builders, one constraint family each, and hints.

Variables (kept in dicts keyed by domain ids): ``g[request]`` granted, ``x[request, resource]``
placed on that resource, ``s[request]`` start slot, ``iv[request, resource]`` optional interval.
Calendars, maintenance, training and each resource's time grid are folded into the allowed start
domains computed by :mod:`scheduler.analysis`, so a start outside them is never even considered.
The staged solve that uses these models is :mod:`scheduler.cpsat`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from fractions import Fraction

from ortools.sat.python import cp_model
from ortools.util.python.sorted_interval_list import Domain

from scheduler.facts import EXACT_CHANGEOVER_LIMIT, Prepared, Ranges
from scheduler.fairness import Granted as _Granted
from scheduler.fairness import floor_cap
from scheduler.intervals import intersect, union_of
from scheduler.problem import DIMENSIONS, GPU_NODE, PILOT_LINE
from scheduler.timeline import Timeline, add_dims

Z_SCALE = 10_000  # the fair level z is an integer number of 1/10,000ths
# In a dominant-share class a pair at level z (scaled) has, in at least one dimension d,
#   Z_SCALE * den * used_d >= num * capacity_d * z   (num / den: its weight share w / sum w),
# i.e. used_d / capacity_d >= (z / Z_SCALE) * w / sum w, all in integers (capacity-slots).


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
    # Dominant-share pairs: per dimension counted in the class, (granted expression, capacity).
    # (the dimension's index in DIMENSIONS, -1 for GPUs)
    dims: dict[tuple[str, str], list[tuple[object, int, int]]] = field(default_factory=dict)
    # Placements that stay as they are while a block of requests is re-planned:
    # resource -> [(start, end, units, recipe)], and what each asks in the other dimensions.
    fixed: dict[str, list[tuple[int, int, int, str | None]]] = field(default_factory=dict)
    fixed_dims: dict[str, list[dict[str, int]]] = field(default_factory=dict)
    levels: list[tuple[cp_model.IntVar, dict]] = field(default_factory=list)
    relax_changeovers: bool = False  # for bounds: lines keep only "one run at a time"
    hi: dict[str, int] = field(default_factory=dict)
    outside_dims: dict[tuple[str, str], tuple[int, ...]] = field(default_factory=dict)


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
    """GPU nodes: cumulative over GPUs and, where the node counts them, over CPUs and memory.
    Lines and instruments: no overlap (changeovers between
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
        if r.kind == GPU_NODE:
            for dim in DIMENSIONS:
                cap = getattr(r, dim)
                need = [getattr(reqs[q], dim) for q in qids]
                need += [d[dim] for d in v.fixed_dims.get(rid, [])]
                if cap and sum(need) > cap:
                    model.AddCumulative(ivs, need, cap)


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
    model: cp_model.CpModel,
    prep: Prepared,
    v: Vars,
    outside: dict | None = None,
    outside_dims: dict | None = None,
) -> cp_model.IntVar:
    """The fair level z (scaled by ``Z_SCALE``): every tenant and class gets at least
    min(demand, z * entitlement), or in a dominant-share class is at its demand or has a
    dominant share of at least z times its weight share. Entitlements and weight shares are
    rational approximations num/den."""
    outside = outside or {}
    outside_dims = v.outside_dims = outside_dims or {}
    reqs = prep.problem.request_by_id
    for key, terms in _pair_terms(prep, v).items():
        if key in prep.entitlement and prep.entitlement[key] > 0:
            v.granted[key] = sum(u * v.g[qid] for u, qid in terms) + outside.get(key, 0)
            caps = prep.dominant.get(key[1])
            if caps is None:
                continue
            v.dims[key] = [(v.granted[key], caps["gpus"], -1)]
            have = outside_dims.get(key) or (0,) * len(DIMENSIONS)
            for i, dim in enumerate(DIMENSIONS):
                if caps.get(dim):
                    expr = sum(
                        reqs[qid].duration * reqs[qid].nodes * getattr(reqs[qid], dim) * v.g[qid]
                        for _u, qid in terms
                    )
                    v.dims[key].append((expr + have[i], caps[dim], i))
    return add_fair_level(model, prep, v, list(v.granted))


def _ratio(prep: Prepared, key: tuple[str, str]) -> tuple[int, int]:
    """num, den: the entitlement (hours) or the weight share (dominant share), rational."""
    value = prep.weight_share[key] if key[1] in prep.dominant else prep.entitlement[key]
    frac = Fraction(value).limit_denominator(1000)
    return frac.numerator, frac.denominator


def add_share_at_least(
    model: cp_model.CpModel, prep: Prepared, v: Vars, key: tuple[str, str], z, name: str
) -> tuple[cp_model.IntVar, list[cp_model.IntVar]]:
    """A dominant-share pair at its demand or at level ``z`` (scaled) in some dimension;
    returns the literals (at demand, and one per dimension)."""
    num, den = _ratio(prep, key)
    met = model.NewBoolVar(f"met{name}[{key[0]},{key[1]}]")
    model.Add(v.granted[key] >= prep.demand[key]).OnlyEnforceIf(met)
    lits = []
    for i, (expr, cap, _dim) in enumerate(v.dims[key]):
        b = model.NewBoolVar(f"dom{name}[{key[0]},{key[1]},{i}]")
        model.Add(expr * (Z_SCALE * den) >= z * (num * cap)).OnlyEnforceIf(b)
        lits.append(b)
    model.AddBoolOr([met, *lits])
    v.all += [met, *lits]
    return met, lits


def add_fair_level(
    model: cp_model.CpModel, prep: Prepared, v: Vars, keys: list[tuple[str, str]]
) -> cp_model.IntVar:
    """One level of the (approximate) leximin: a new z over the given tenant/class pairs.
    Terms: per pair ``(y, top, num, den)``; for a dominant-share pair ``y`` is the pair of
    literals of :func:`add_share_at_least`."""
    zcap = math.ceil(floor_cap(prep) * Z_SCALE) + 1
    level = len(v.levels)
    z = model.NewIntVar(0, zcap, f"z{level}")
    v.all.append(z)
    terms: dict[tuple[str, str], tuple] = {}
    for key in keys:
        num, den = _ratio(prep, key)
        if num == 0:
            continue
        top = prep.demand[key] * Z_SCALE * den
        if key in v.dims:
            terms[key] = (add_share_at_least(model, prep, v, key, z, str(level)), top, num, den)
            continue
        y = model.NewIntVar(0, top, f"y{level}[{key[0]},{key[1]}]")
        v.all.append(y)
        model.AddMinEquality(y, [top, z * num])
        model.Add(v.granted[key] * (Z_SCALE * den) >= y)
        terms[key] = (y, top, num, den)
    v.levels.append((z, terms))
    if level == 0:
        v.z, v.fair_terms = z, terms
    return z


def pair_level(prep: Prepared, key: tuple[str, str], term: tuple, granted) -> int | None:
    """The level (scaled) a pair reaches in the model with what ``granted`` (a timeline) gives
    it, or ``None`` when it is at its demand (not held to any level)."""
    _y, top, num, den = term
    used = granted.usage.get(key, 0)
    if key[1] not in prep.dominant:
        have = used * Z_SCALE * den
        return None if have >= top else have // num
    if used >= prep.demand[key]:
        return None
    caps = prep.dominant[key[1]]
    vals = [(used, caps["gpus"])]
    dims = granted.dims.get(key) or (0,) * len(DIMENSIONS)
    vals += [(dims[i], caps[d]) for i, d in enumerate(DIMENSIONS) if caps.get(d)]
    return max(Z_SCALE * den * x // (num * cap) for x, cap in vals if cap)


def hold_level(model: cp_model.CpModel, prep: Prepared, v: Vars, key, granted, name: str):
    """Keep the pair at least where ``granted`` has it: its hours, and in a dominant-share
    class its dominant share too (or its demand)."""
    model.Add(v.granted[key] >= granted.usage.get(key, 0))
    if key in v.dims:
        level = pair_level(prep, key, (None, 0, *_ratio(prep, key)), granted)
        if level is not None and level > 0:
            add_share_at_least(model, prep, v, key, level, name)


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
    outside_dims: dict | None = None,
) -> tuple[cp_model.CpModel, Vars]:
    """The whole model (without an objective). With ``only``, just those requests are planned;
    the placements in ``fixed`` (other requests) occupy their resources unchanged and
    ``outside`` is their usage per (tenant, class) (``outside_dims``: their CPU-slots and
    memory-slots, for dominant shares)."""
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
                    v.fixed_dims.setdefault(rid, []).append(
                        {dim: getattr(q, dim) for dim in DIMENSIONS}
                    )
    add_calendars(model, prep, v)
    add_capacity(model, prep, v)
    add_changeovers(model, prep, v)
    add_chains(model, prep, v)
    add_quotas(model, prep, v, outside if quota_outside is None else quota_outside)
    add_fairness(model, prep, v, outside, outside_dims)
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
    from_plan = _Granted(dict(outside), dict(v.outside_dims))
    for qid in tl.placed:
        if qid in v.g:
            q = reqs[qid]
            key = (q.tenant, prep.klass[qid])
            from_plan.usage[key] = from_plan.usage.get(key, 0) + q.usage
            if q.cpus or q.memory:
                from_plan.dims[key] = add_dims(from_plan.dims.get(key), q, 1)
    for z_var, terms in v.levels:
        z = model_level(prep, from_plan, terms)
        model.AddHint(z_var, z)
        for key, (y, top, num, den) in terms.items():
            if key not in v.dims:
                model.AddHint(y, min(top, z * num))
                continue
            met, lits = y
            model.AddHint(met, from_plan.usage.get(key, 0) >= prep.demand[key])
            dims = from_plan.dims.get(key) or (0,) * len(DIMENSIONS)
            for (_expr, cap, i), b in zip(v.dims[key], lits, strict=True):
                used = from_plan.usage.get(key, 0) if i < 0 else dims[i]
                model.AddHint(b, used * Z_SCALE * den >= z * num * cap)


def model_level(prep: Prepared, granted, terms: dict) -> int:
    """The fair level (scaled) that ``granted`` (a timeline) reaches in the model over the
    pairs of ``terms``."""
    z = math.ceil(floor_cap(prep) * Z_SCALE) + 1
    for key, term in terms.items():
        level = pair_level(prep, key, term, granted)
        if level is not None:
            z = min(z, level)
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
