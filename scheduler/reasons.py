"""Turning placements into a :class:`Plan` with a reason for every request not granted."""

from __future__ import annotations

import time
from collections.abc import Collection

import numpy as np

from scheduler.earliness import compact
from scheduler.facts import Prepared
from scheduler.fairness import MEASURE_WORDS, figures, reason_text
from scheduler.fairness import shares as shares_of
from scheduler.plan import Assignment, Plan
from scheduler.timeline import Timeline

FLOOR_TOLERANCE = 1e-6


def explain(
    prep: Prepared, tl: Timeline, floor: float, no_room: Collection[str] = ()
) -> dict[str, tuple[str, dict]]:
    """Reason code and details for each request not placed in ``tl`` (``no_room``: requests
    already known to fit nowhere next to ``tl``'s placements, so not searched again)."""
    problem = prep.problem
    reqs = problem.request_by_id
    out: dict[str, tuple[str, dict]] = {}
    shares = shares_of(prep, tl)
    # Per resource and slot: the smallest share of entitlement among the tenants using it.
    low = np.full((len(tl.rows), problem.horizon + 1), np.inf)
    for qid, (rids, start) in tl.placed.items():
        q = reqs[qid]
        sh = shares.get((q.tenant, prep.klass[qid]), np.inf)
        for rid in rids:
            row = low[tl.rows[rid], start : start + q.duration]
            np.minimum(row, sh, out=row)
    for q in problem.requests:
        if q.id in tl.placed:
            continue
        c = prep.klass[q.id]
        if q.id in prep.static_reason:
            code, params = prep.static_reason[q.id]
            params = {"resource_class": c, "need": q.usage, "used": 0, **params}
            if code == "chain_unplaceable":
                params.setdefault("chain", q.chain)
            out[q.id] = (code, params)
            continue
        left = tl.quota_left(q.tenant, c)
        if left is not None and q.usage > left:
            quota = problem.tenant_by_id[q.tenant].quota(c)
            out[q.id] = (
                "quota_exhausted",
                {"resource_class": c, "quota": quota, "used": quota - left, "need": q.usage},
            )
            continue
        if q.chain is not None and len(prep.chains.get(q.chain, ())) > 1:
            out[q.id] = ("chain_unplaceable", {"chain": q.chain})
            continue
        if q.id not in no_room and tl.find(q) is not None:
            out[q.id] = ("left_out_by_solver", {})
            continue
        key = (q.tenant, c)
        share = shares.get(key, 0.0)
        # Did capacity in its window go to a tenant with a smaller share of its entitlement?
        idx = [tl.rows[rid] for rid in prep.starts[q.id]]
        fairer = bool(low[idx, q.earliest : q.deadline].min() < share - FLOOR_TOLERANCE)
        code = "capacity_to_fairer_share" if fairer else "capacity_full"
        measure = problem.measure(c)  # the share is of this measure (the contract, 4 and 11)
        out[q.id] = (
            code,
            {
                "resource_class": c,
                "share": share,
                "floor": floor,
                "measure": measure,
                "measure_words": MEASURE_WORDS.get(measure, measure),
            },
        )
    return out


def in_hours(prep: Prepared, params: dict) -> dict:
    """Reason figures in hours as well (usage is in capacity-slots): ``quota_hours``,
    ``used_hours``, ``need_hours``; the resource class stays named."""
    hours = prep.problem.slot_minutes / 60
    out = dict(params)
    for name in ("quota", "used", "need"):
        if isinstance(params.get(name), int | float):
            out[f"{name}_hours"] = round(params[name] * hours, 2)
    return out


def make_plan(
    prep: Prepared,
    tl: Timeline,
    *,
    status: str,
    planner: str,
    started: float,
    objectives: dict | None = None,
    bounds: dict | None = None,
    stages: list | None = None,
    no_room: Collection[str] = (),
    keep: Collection[str] = (),
) -> Plan:
    """A plan from a filled timeline: assignments, reasons, figures and timing.

    Granted requests are first moved earlier wherever nothing else has to change (``keep``:
    those that stay, e.g. confirmed bookings), so "moved" (later than asked) is always true."""
    tl = compact(prep, tl.clone(), keep=keep)
    fig = figures(prep, tl.placed.keys())
    reasons = explain(prep, tl, fig.floor, no_room)
    assignments: dict[str, Assignment] = {}
    for q in prep.problem.requests:
        if q.id in tl.placed:
            resources, start = tl.placed[q.id]
            code = "moved" if start > q.earliest else "granted"
            params = {
                "resources": ", ".join(resources),
                "start": start,
                "end": start + q.duration,
                "asked": q.earliest,
            }
            assignments[q.id] = Assignment(
                q.id,
                True,
                resources,
                start,
                start + q.duration,
                code,
                reason_text(code, **params),
                params,
            )
        else:
            code, params = reasons[q.id]
            params = in_hours(prep, params)
            assignments[q.id] = Assignment(
                q.id, False, reason=code, reason_text=reason_text(code, **params), params=params
            )
    obj = {"floor": fig.floor, "granted_usage": fig.granted_usage}
    obj.update(objectives or {})
    return Plan(
        assignments=assignments,
        status=status,
        planner=planner,
        objectives=obj,
        bounds=dict(bounds or {}),
        wall_time=time.perf_counter() - started,
        figures=fig.as_dict(),
        stages=list(stages or []),
    )
