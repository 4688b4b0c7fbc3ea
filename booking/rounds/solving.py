"""Run the planner on a round and store the plan, figures and outcomes in one transaction."""

from __future__ import annotations

import json
import logging
import time

from django.conf import settings
from django.db import transaction
from django.utils import timezone

import scheduler
from booking.rounds.adapter import RoundProblem, round_problem_build
from booking.rounds.models import AllocationRound
from booking.rounds.outcomes import Outcome, outcomes_from_plan
from booking.tenancy.models import Tenant

logger = logging.getLogger(__name__)


def _empty_plan() -> scheduler.Plan:
    return scheduler.Plan(assignments={}, status="optimal", planner="none", figures={})


def solve_round_problem(rp: RoundProblem, *, time_limit: float) -> tuple[scheduler.Plan, float]:
    """Run the planner (CP-SAT with a greedy fallback); returns the plan and the wall time."""
    started = time.perf_counter()
    if not rp.problem.requests:
        return _empty_plan(), 0.0
    plan = scheduler.solve(rp.problem, time_limit=time_limit, workers=2, seed=0)
    return plan, time.perf_counter() - started


def _figures(rp: RoundProblem, plan: scheduler.Plan, outcomes: dict[int, Outcome], **extra):
    fig = dict(plan.figures or {})
    tenants = {
        t.slug: t for t in Tenant.objects.filter(slug__in=[t.id for t in rp.problem.tenants])
    }
    # The weight the planner used (the tenant's own times any penalty, booking.rounds.weights).
    weights = {t.id: t.weight for t in rp.problem.tenants}
    rows = []
    for key, value in sorted((fig.get("share") or {}).items()):
        slug, cls = key.split("/", 1)
        rows.append(
            {
                "tenant": slug,
                "name": tenants[slug].name if slug in tenants else slug,
                "weight": weights.get(slug),
                "class": cls,
                "share": value,
            }
        )
    # Per tenant and class, in hours: the round's quota and what the plan grants; the member
    # pages render quota reasons from these without loading the whole plan.
    classes = {r.id: r.resource_class for r in rp.problem.resources}
    granted_by: dict[str, float] = {}
    for rid, a in plan.assignments.items():
        if a.granted:
            q = rp.problem.request_by_id[rid]
            key = f"{q.tenant}/{classes[q.resources[0]]}"
            granted_by[key] = granted_by.get(key, 0) + q.usage
    values = list(outcomes.values())
    fig.update(
        {
            "quotas": {
                f"{t.id}/{cls}": rp.hours(v) for t in rp.problem.tenants for cls, v in t.quotas
            },
            "granted_by": {k: rp.hours(v) for k, v in sorted(granted_by.items())},
            "status": plan.status,
            "planner": plan.planner,
            "wall_time": round(plan.wall_time, 3),
            "bound_floor": plan.bounds.get("floor"),
            "objectives": plan.objectives,
            "requests": len(values),
            "granted": sum(o.granted for o in values),
            "moved": sum(o.code == "moved" for o in values),
            "refused": sum(o.final for o in values),
            "waitlisted": sum(not o.granted and not o.final for o in values),
            "granted_hours": rp.hours(fig.get("granted_usage", 0)),
            "slot_minutes": rp.slot_minutes,
            "tenants": rows,
            "notes": rp.notes,
            **extra,
        }
    )
    return fig


def round_plan_solve(*, round_id: int) -> AllocationRound | None:
    """Plan a round that is SOLVING and store the result (SOLVED), all in one transaction.

    Returns ``None`` when the round is not SOLVING (someone else finished or reset it). A failure
    to build or solve puts the round back to CLOSED with the error, for the operator to see.
    """
    rnd = AllocationRound.objects.get(pk=round_id)
    if rnd.status != AllocationRound.Status.SOLVING:
        return None
    started = time.perf_counter()
    try:
        rp = round_problem_build(allocation_round=rnd)
        build_time = time.perf_counter() - started
        limit = float(rnd.time_limit_seconds or settings.PLANNER_TIME_LIMIT)
        plan, _wall = solve_round_problem(rp, time_limit=limit)
    except Exception as exc:  # noqa: BLE001 - any failure must release the round
        logger.exception("planning round %s failed", round_id)
        AllocationRound.objects.filter(pk=round_id, status=AllocationRound.Status.SOLVING).update(
            status=AllocationRound.Status.CLOSED, solve_error=str(exc)[:2000]
        )
        return None
    names = {slug: r.name for slug, r in rp.resources.items()}
    outcomes = outcomes_from_plan(
        problem=rp.problem, plan=plan, bookings=rp.bookings, resource_names=names
    )
    outcomes.update(rp.preset)
    total_time = time.perf_counter() - started
    with transaction.atomic():
        locked = AllocationRound.objects.select_for_update().get(pk=round_id)
        if locked.status != AllocationRound.Status.SOLVING:
            return None
        locked.plan = {
            "problem": json.loads(scheduler.problem_to_json(rp.problem)),
            "plan": json.loads(scheduler.plan_to_json(plan)),
            "outcomes": {str(pk): o.as_json() for pk, o in sorted(outcomes.items())},
            "resource_names": names,
        }
        locked.figures = _figures(
            rp,
            plan,
            outcomes,
            build_time=round(build_time, 3),
            total_time=round(total_time, 3),
        )
        locked.status = AllocationRound.Status.SOLVED
        locked.solved_at = timezone.now()
        locked.solve_error = ""
        locked.save(update_fields=["plan", "figures", "status", "solved_at", "solve_error"])
    return locked
