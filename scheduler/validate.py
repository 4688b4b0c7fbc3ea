"""A solver-free check of a plan against its problem, and the plan's fairness figures.

It recomputes everything from the problem's own fields (not from the planners' data
structures): capacity per slot, windows, opening hours and shifts, maintenance, minimum run,
changeovers between consecutive runs, training valid for the whole booking, chains, gangs and
quotas. Use it to audit any plan, including one edited by hand or loaded from JSON.

The fairness level a plan states (``figures.floor``, ``figures.share``) is recomputed here too,
from the granted bookings and the problem's own fields (capacity per class and dimension, weights,
the measure of each class), with the plan's stated demand; a stated level that the bookings do
not give is reported.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field

from scheduler.analysis import _clip, prepare
from scheduler.earliness import needless_delays
from scheduler.fairness import Figures, figures
from scheduler.plan import Plan
from scheduler.problem import DIMENSIONS, DOMINANT_SHARE, PILOT_LINE, Problem
from scheduler.timeline import Timeline


@dataclass
class Report:
    ok: bool
    violations: list[str] = field(default_factory=list)
    figures: Figures | None = None
    # Granted requests that could start earlier with every other booking unchanged (not a broken
    # rule, but a "moved" that is not true).
    delays: list[str] = field(default_factory=list)

    def as_dict(self) -> dict:
        return {
            "ok": self.ok,
            "violations": self.violations,
            "delays": self.delays,
            "figures": self.figures.as_dict() if self.figures else None,
        }


def _covered(s: int, e: int, periods) -> bool:
    return any(a <= s and e <= b for a, b in _clip(periods, -(10**9), 10**9))


def validate(
    problem: Problem,
    plan: Plan,
    *,
    held: Mapping[str, tuple[Sequence[str], int]] | None = None,
    refused: Collection[str] = (),
    refused_chains: Collection[str] = (),
    with_figures: bool = True,
    check_delays: bool = True,
) -> Report:
    """Check ``plan`` against ``problem``; ``ok`` is true when no rule is broken.

    For a re-plan: ``held`` are confirmed bookings (request -> resources, start) that may not
    move (a held booking may only lose its place, never be granted elsewhere); ``refused`` are
    requests refused for good and ``refused_chains`` chains with a step refused outside the
    problem: neither they nor any step of their chains may be granted. ``with_figures=False``
    skips the fairness figures (and the demand alone they need): the rules are checked alike.
    ``delays`` lists needless delays (``check_delays``; only for a plan that breaks no rule)."""
    prep = prepare(problem, demand_of=None if with_figures else ())
    bad: list[str] = []
    reqs = problem.request_by_id
    res = problem.resource_by_id
    for rid in plan.assignments:
        if rid not in reqs:
            bad.append(f"{rid}: not a request of this problem")
    granted = {rid: a for rid, a in plan.assignments.items() if a.granted and rid in reqs}
    load: dict[str, list[int]] = {r.id: [0] * (problem.horizon + 1) for r in problem.resources}
    runs: dict[str, list[tuple[int, int, str | None, str]]] = {}
    usage: dict[tuple[str, str], int] = {}
    dims: dict[tuple[str, str], list[int]] = {}
    for rid, a in granted.items():
        q = reqs[rid]
        where = f"{rid}"
        s, e = a.start, a.end
        if s is None or e is None:
            bad.append(f"{where}: granted without a start and end")
            continue
        if e - s != q.duration:
            bad.append(f"{where}: booked {e - s} slots, asked {q.duration}")
        if s < q.earliest or e > q.deadline:
            bad.append(f"{where}: [{s}, {e}) outside its window [{q.earliest}, {q.deadline})")
        if s < 0 or e > problem.horizon:
            bad.append(f"{where}: [{s}, {e}) outside the round [0, {problem.horizon})")
            continue
        if len(a.resources) != q.nodes or len(set(a.resources)) != q.nodes:
            bad.append(f"{where}: needs {q.nodes} distinct resources, got {list(a.resources)}")
        for r_id in a.resources:
            if r_id not in q.resources:
                bad.append(f"{where}: {r_id} is not one of its candidates")
                continue
            r = res[r_id]
            step, offset = problem.grid(r)
            if (s - offset) % step or (e - offset) % step:
                bad.append(
                    f"{where}: [{s}, {e}) on {r_id} is off its time grid of {step} slots "
                    f"from {offset}"
                )
            if r.open_periods is not None and not _covered(s, e, r.open_periods):
                bad.append(f"{where}: [{s}, {e}) on {r_id} is outside opening hours/shifts")
            for ma, mb in r.maintenance:
                if s < mb and ma < e:
                    bad.append(f"{where}: [{s}, {e}) on {r_id} overlaps maintenance [{ma}, {mb})")
            if r.min_run and q.duration < r.min_run:
                bad.append(f"{where}: shorter than the minimum run {r.min_run} of {r_id}")
            if r.required_training:
                valid = [
                    (t.valid_from, t.valid_until)
                    for t in problem.trainings
                    if t.user == q.user and t.training == r.required_training
                ]
                if not _covered(s, e, valid):
                    bad.append(
                        f"{where}: user {q.user} holds no valid {r.required_training} training "
                        f"for [{s}, {e})"
                    )
            ld = load[r_id]
            ld[s] += q.units
            ld[e] -= q.units
            for dim in DIMENSIONS:
                if getattr(r, dim):
                    dl = dims.setdefault((r_id, dim), [0] * (problem.horizon + 1))
                    dl[s] += getattr(q, dim)
                    dl[e] -= getattr(q, dim)
            if r.kind == PILOT_LINE:
                runs.setdefault(r_id, []).append((s, e, q.recipe, rid))
        key = (q.tenant, prep.klass[rid])
        usage[key] = usage.get(key, 0) + q.usage

    for r in problem.resources:
        level = 0
        for slot, delta in enumerate(load[r.id][: problem.horizon]):
            level += delta
            if level > r.capacity:
                bad.append(f"{r.id}: {level} units used in slot {slot}, capacity {r.capacity}")
                break
    for (r_id, dim), deltas in sorted(dims.items()):
        level, cap = 0, getattr(res[r_id], dim)
        for slot, delta in enumerate(deltas[: problem.horizon]):
            level += delta
            if level > cap:
                bad.append(f"{r_id}: {level} {dim} used in slot {slot}, capacity {cap}")
                break
    for r_id, line_runs in runs.items():
        line_runs.sort()
        r = res[r_id]
        for (_s1, e1, rc1, q1), (s2, _e2, rc2, q2) in zip(line_runs, line_runs[1:], strict=False):
            need = r.changeover(rc1, rc2)
            if s2 < e1 + need:
                bad.append(
                    f"{r_id}: {q2} starts {s2 - e1} slots after {q1}; changeover "
                    f"{rc1}->{rc2} needs {need}"
                )

    for cid, members in prep.chains.items():
        if len(members) < 2:
            continue
        got = [m.id in granted for m in members]
        if any(got) and not all(got):
            bad.append(f"chain {cid}: only some steps granted (all or nothing)")
            continue
        if not all(got):
            continue
        for prev, nxt in zip(members, members[1:], strict=False):
            pe, ns = granted[prev.id].end, granted[nxt.id].start
            if ns < pe:
                bad.append(f"chain {cid}: {nxt.id} starts before {prev.id} ends")
            elif nxt.max_gap is not None and ns - pe > nxt.max_gap:
                bad.append(f"chain {cid}: gap {ns - pe} before {nxt.id} exceeds {nxt.max_gap}")

    for rid, (rids, start) in (held or {}).items():
        a = granted.get(rid)
        if a is not None and (tuple(a.resources) != tuple(rids) or a.start != start):
            bad.append(
                f"{rid}: confirmed on {list(rids)} from {start}, moved to "
                f"{list(a.resources)} from {a.start}"
            )
    refused_chains = set(refused_chains) | {
        reqs[rid].chain for rid in refused if rid in reqs and reqs[rid].chain is not None
    }
    for rid in granted:
        q = reqs[rid]
        if rid in refused:
            bad.append(f"{rid}: granted although refused for good")
        elif q.chain is not None and q.chain in refused_chains:
            bad.append(f"{rid}: granted although a step of chain {q.chain} was refused")

    tenants = problem.tenant_by_id
    for (t, c), used in sorted(usage.items()):
        quota = tenants[t].quota(c)
        if quota is not None and used > quota:
            bad.append(f"tenant {t}: {used} granted in {c}, quota {quota}")

    fig = figures(prep, granted.keys()) if with_figures else None
    if with_figures and plan.figures:
        bad += stated_level_errors(problem, plan, prep.demand, prep.klass)
    delays: list[str] = []
    if check_delays and not bad:
        tl = Timeline(prep)
        for rid, a in granted.items():
            tl.place(reqs[rid], tuple(a.resources), a.start)
        delays = needless_delays(prep, tl)
    return Report(ok=not bad, violations=bad, figures=fig, delays=delays)


def _open_slots(problem: Problem, resource) -> int:
    """Slots of the round in which the resource is open and not in maintenance."""
    opened = [(0, problem.horizon)] if resource.open_periods is None else resource.open_periods
    return sum(
        1
        for slot in range(problem.horizon)
        if any(a <= slot < b for a, b in opened)
        and not any(a <= slot < b for a, b in resource.maintenance)
    )


def recomputed_shares(
    problem: Problem, plan: Plan, demand: Mapping[tuple[str, str], int], klass: Mapping[str, str]
) -> tuple[dict[tuple[str, str], float], set[tuple[str, str]]]:
    """Each tenant/class pair's share of its entitlement from the granted bookings, and the
    pairs still below ``demand``. Hours: granted capacity-slots over w / (sum of weights of the
    tenants asking in the class) x the class's capacity-slots. Dominant share: the largest of
    granted GPU-, CPU- and memory-slots over the class's capacity in each, over that weight
    share."""
    caps: dict[str, dict[str, int]] = {}
    for r in problem.resources:
        slots = _open_slots(problem, r)
        c = caps.setdefault(r.resource_class, {"gpus": 0})
        c["gpus"] += slots * r.capacity
        for dim in DIMENSIONS:
            c[dim] = c.get(dim, 0) + slots * getattr(r, dim)
    used: dict[tuple[str, str], dict[str, int]] = {}
    reqs = problem.request_by_id
    for rid, a in plan.assignments.items():
        if not a.granted or rid not in reqs or a.start is None or a.end is None:
            continue
        q = reqs[rid]
        n = (a.end - a.start) * len(a.resources)
        u = used.setdefault((q.tenant, klass[rid]), {"gpus": 0, "cpus": 0, "memory": 0})
        u["gpus"] += n * q.units
        for dim in DIMENSIONS:
            u[dim] += n * getattr(q, dim)
    weights = {t.id: t.weight for t in problem.tenants}
    total: dict[str, float] = {}
    for (t, c), d in demand.items():
        if d > 0:
            total[c] = total.get(c, 0.0) + weights[t]
    shares: dict[tuple[str, str], float] = {}
    below: set[tuple[str, str]] = set()
    for (t, c), d in demand.items():
        if d <= 0 or not caps.get(c, {}).get("gpus"):
            continue
        u = used.get((t, c), {"gpus": 0, "cpus": 0, "memory": 0})
        weight_share = weights[t] / total[c]
        if problem.measure(c) == DOMINANT_SHARE:
            dominant = max(u[dim] / caps[c][dim] for dim in caps[c] if caps[c][dim])
            shares[(t, c)] = dominant / weight_share
        else:
            shares[(t, c)] = u["gpus"] / (weight_share * caps[c]["gpus"])
        if u["gpus"] < d:
            below.add((t, c))
    return shares, below


def stated_level_errors(
    problem: Problem, plan: Plan, demand: Mapping[tuple[str, str], int], klass: Mapping[str, str]
) -> list[str]:
    """Where the plan's stated measures, shares and floor differ from what its bookings give
    (with the demand the plan states, else ``demand``). The floor is checked when a tenant is
    below its demand (otherwise it is only the level's cap). A re-plan's shares and floor are
    not checked: it keeps the published entitlements for the tenants it does not re-plan
    (FORMAT.md, Re-plans), so only its measures are."""
    fig = plan.figures
    out: list[str] = []
    for c, m in (fig.get("measures") or {}).items():
        if m != problem.measure(c):
            out.append(f"fairness: the plan measures {c} by {m}, the round by {problem.measure(c)}")
    if plan.planner == "replan":
        return out
    stated_demand = fig.get("demand")
    if stated_demand:
        demand = {tuple(k.split("/", 1)): int(v) for k, v in stated_demand.items()}
    shares, below = recomputed_shares(problem, plan, demand, klass)
    for name, value in sorted((fig.get("share") or {}).items()):
        key = tuple(name.split("/", 1))
        if key in shares and abs(shares[key] - value) > 1e-5 * max(1.0, abs(value)):
            out.append(
                f"fairness: {name} stated share {value:.6f}, the bookings give {shares[key]:.6f}"
            )
    if "floor" in fig and below:
        level = min(shares[k] for k in below)
        if abs(level - fig["floor"]) > 1e-5 * max(1.0, level):
            out.append(f"fairness: stated floor {fig['floor']:.6f}, the bookings give {level:.6f}")
    return out
