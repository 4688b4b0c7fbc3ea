"""The waitlist: time freed by a cancellation is re-planned among a round's waitlisted requests.

The re-plan runs in a huey task (``rounds.tasks.waitlist_replan_task``), never in the request
that cancelled: the cancellation commits, then ``rounds.desk.replan_after_cancel`` queues the
task. The task holds the round's lease (``round_lease_name``) while it plans, so two re-plans of
one round never run at once; a cancellation arriving meanwhile asks the holder to run again.
"""

from __future__ import annotations

import datetime as dt
import json
import logging

from django.db import IntegrityError, transaction
from django.utils import timezone

import scheduler
from booking.bookings.models import HOLDING_STATUSES, Booking, BookingStatus
from booking.bookings.notifications import notify_bookings
from booking.errors import ParkError
from booking.rounds.adapter import round_problem_build
from booking.rounds.lifecycle import Status
from booking.rounds.models import AllocationRound
from booking.rounds.outcomes import (
    Outcome,
    booking_apply_outcome,
    check_free,
    check_on_grid,
    current_problem,
    outcomes_from_plan,
)

# Seconds the planner may take for one waitlist re-plan (a ceiling: a proven re-plan returns
# at once).
WAITLIST_TIME_LIMIT = 5.0

logger = logging.getLogger(__name__)


def round_lease_name(round_id: int) -> str:
    """The lease one planner run of a round holds (solving it, or re-planning its waitlist)."""
    return f"round-{round_id}"


def _as_published(
    problem: scheduler.Problem, stored: scheduler.Plan, bookings: dict[str, Booking]
) -> tuple[scheduler.Problem, scheduler.Plan, list, set[str], dict]:
    """The round as the database has it now, in the planner's terms.

    The stored problem keeps its requests and resources (with their recipes), but each request's
    state is read from its booking: holding → granted where the booking lies (held by the
    re-plan, recipe and changeovers kept), waitlisted → waiting, refused → refused for good.
    A request granted in the stored plan whose booking was cancelled since is a
    ``Cancellation`` (granted where it was, so the re-plan knows the time it frees) unless a
    step of its chain still holds; any other request no longer waiting or holding leaves the
    problem, and the waiting steps of its chain are never granted alone. Out: the problem, the
    plan as published now, the changes, the refused request ids and the held placements (for
    the validator)."""
    slot, origin = problem.slot_minutes, problem.round_start
    kept, assignments, refused, held, changes = [], {}, set(), {}, []
    gone_chains: set[str] = set()
    cancelled_chains: set[str] = set()

    def holds(q) -> bool:
        b = bookings.get(q.id)
        return b is not None and b.status in HOLDING_STATUSES

    for q in problem.requests:
        b = bookings.get(q.id)
        was = stored.assignments.get(q.id)
        if b is None or b.status not in (*HOLDING_STATUSES, *_WAITING):
            partners = [m for m in problem.requests if q.chain and m.chain == q.chain]
            if any(holds(m) for m in partners):
                continue  # the rest of its chain keeps its bookings
            if q.chain is not None:
                gone_chains.add(q.chain)  # a withdrawn step withdraws its chain
            if was is not None and was.granted and q.chain not in cancelled_chains:
                kept.append(q)
                assignments[q.id] = was
                changes.append(scheduler.Cancellation(q.id))
                if q.chain is not None:
                    cancelled_chains.add(q.chain)  # one Cancellation withdraws the whole chain
            continue
        if b.status in HOLDING_STATUSES:
            slug = b.resource.slug if b.resource_id else None
            if slug not in problem.resource_by_id:
                continue
            start = scheduler.to_slot(b.start, origin, slot, round_up=False)
            rids = (slug,)
            if was is not None and was.granted and was.start == start and slug in was.resources:
                rids = tuple(was.resources)
            kept.append(q)
            assignments[q.id] = scheduler.Assignment(q.id, True, rids, start, start + q.duration)
            held[q.id] = (rids, start)
            continue
        kept.append(q)
        if b.status == BookingStatus.REFUSED:
            refused.add(q.id)
        if was is not None and not was.granted:
            assignments[q.id] = was
        elif was is not None:
            assignments[q.id] = scheduler.Assignment(q.id, False, reason="capacity_full")
    out = problem.replace(requests=tuple(kept))
    plan = scheduler.Plan(
        assignments=assignments,
        status=stored.status,
        planner=stored.planner,
        figures=stored.figures,
    )
    # Steps of a chain whose other step was withdrawn are never granted alone.
    refused |= {q.id for q in kept if q.chain in gone_chains and q.id not in held}
    return out, plan, changes, refused, held


_WAITING = (BookingStatus.WAITLISTED, BookingStatus.REFUSED)


def waitlist_replan(
    *, round_id: int, cancelled_booking_id: int | None = None, now: dt.datetime | None = None
) -> list[Booking]:
    """Re-plan a published round's waitlist after a cancellation, keeping every rule.

    In: the round's id (the caller holds its lease), the cancelled booking (for the event
    note). The round's stored problem is brought up to date from its bookings (confirmed ones
    held where they are, with their recipes, so changeovers to and from them hold; cancelled
    ones removed; refused ones never granted, nor their chains) and ``scheduler.replan`` plans
    the waitlist from now on. The result is checked by the solver-free validator before
    anything is written; a chain is promoted all together or not at all. The promoted
    requests become CONFIRMED (reason ``promoted``), their owners are told once this commits,
    and the new problem and plan are kept with the round. Out: the promoted bookings. A failing
    planner or a plan the validator refuses leaves everything as it was (logged).
    """
    now = now or timezone.now()
    rnd = AllocationRound.objects.filter(pk=round_id).first()
    if rnd is None or rnd.status != Status.PUBLISHED or rnd.period_end <= now:
        return []
    if not rnd.requests.filter(status=BookingStatus.WAITLISTED).exists():
        return []
    stored = current_problem(rnd) or _problem_from_bookings(rnd)
    if stored is None:
        return []
    problem, plan = stored
    bookings = {
        str(b.pk): b
        for b in Booking.objects.filter(
            pk__in=[int(q.id) for q in problem.requests]
        ).select_related("tenant", "user", "resource", "pool", "recipe")
    }
    try:
        problem, published, changes, refused, held = _as_published(problem, plan, bookings)
        reqs = problem.request_by_id
        refused_chains = {reqs[q].chain for q in refused if reqs[q].chain}
        at = scheduler.to_slot(now, problem.round_start, problem.slot_minutes, round_up=True)
        result = scheduler.replan(
            problem,
            published,
            changes,
            now=max(0, at),
            refused=refused,
            refused_chains=refused_chains,
            time_limit=min(WAITLIST_TIME_LIMIT, float(rnd.time_limit_seconds)),
        )
        report = scheduler.validate(
            result.problem,
            result.plan,
            held=held,
            refused=refused,
            refused_chains=refused_chains,
            with_figures=False,
            check_delays=False,
        )
    except Exception:  # noqa: BLE001 - the cancellation stands even if re-planning fails
        logger.exception("re-planning the waitlist of round %s failed", rnd.pk)
        return []
    if not report.ok:
        logger.error(
            "re-plan of round %s breaks rules, nothing promoted: %s",
            rnd.pk,
            "; ".join(report.violations[:10]),
        )
        return []
    names = (rnd.plan or {}).get("resource_names") or {}
    outcomes = outcomes_from_plan(
        problem=result.problem, plan=result.plan, bookings=bookings, resource_names=names
    )
    note = "promoted from the waitlist after a cancellation"
    if cancelled_booking_id is not None:
        note = f"promoted from the waitlist after booking {cancelled_booking_id} was cancelled"
    # Promotions in units: a chain's steps together, everything else alone.
    reqs = result.problem.request_by_id
    units: dict[str, list[str]] = {}
    for qid in result.promoted:
        if bookings[qid].status != BookingStatus.WAITLISTED:
            continue
        units.setdefault(reqs[qid].chain or f"q{qid}", []).append(qid)
    resources = {b.resource.slug: b.resource for b in bookings.values() if b.resource_id}
    resources.update(_resources([outcomes[int(q)].resource for q in result.promoted]))
    promoted: list[Booking] = []
    with transaction.atomic():
        for unit in units.values():
            try:
                with transaction.atomic():
                    done = _promote(unit, bookings, outcomes, resources, note)
            except (ParkError, IntegrityError) as exc:
                # Someone took the time or changed the request meanwhile: it stays waitlisted.
                logger.info("waitlisted requests %s not promoted: %s", unit, exc)
                continue
            promoted.extend(done)
        if promoted:
            _remember_promotions(rnd.pk, promoted)
            mails = [
                (
                    b.pk,
                    "pending_approval"
                    if b.status == BookingStatus.PENDING_APPROVAL
                    else "promoted",
                )
                for b in promoted
            ]
            transaction.on_commit(lambda: notify_bookings(mails))
        _store(rnd.pk, result)
    return promoted


def _problem_from_bookings(rnd: AllocationRound):
    """For a round published without a stored problem: its problem built from the database,
    the round's own holding, waitlisted and refused requests as requests (held where they are
    by ``_as_published``), everything else holding the resources as blocked time."""
    mine = list(
        rnd.requests.filter(status__in=(*HOLDING_STATUSES, *_WAITING)).select_related("resource")
    )
    holding = [b for b in mine if b.status in HOLDING_STATUSES]
    rp = round_problem_build(allocation_round=rnd, bookings=mine, exclude=holding)
    if not rp.problem.requests:
        return None
    return rp.problem, scheduler.Plan(assignments={}, status="unknown", planner="none")


def _resources(slugs) -> dict:
    from resources.models import Resource

    return {
        r.slug: r
        for r in Resource.objects.filter(slug__in=[s for s in slugs if s]).select_related("gpu")
    }


def _promote(unit, bookings, outcomes, resources, note) -> list[Booking]:
    """Confirm the requests of one unit (a chain, or one request), all or none."""
    rows = []
    for qid in unit:
        outcome = outcomes[int(qid)]
        rows.append((bookings[qid], resources[outcome.resource], outcome.start, outcome.end))
    # Bookings made since the plan was read win: the time must still be free.
    check_on_grid(rows)
    check_free(rows)
    return [
        booking_apply_outcome(
            booking=b, outcome=outcomes[b.pk], resource=r, note=note, code="promoted"
        )
        for b, r, _s, _e in rows
    ]


def _store(round_id: int, result: scheduler.Replan) -> None:
    """Keep the re-planned problem and plan with the round (the published ones stay as well)."""
    rnd = AllocationRound.objects.select_for_update().get(pk=round_id)
    plan = dict(rnd.plan or {})
    plan["current"] = {
        "problem": json.loads(scheduler.problem_to_json(result.problem)),
        "plan": json.loads(scheduler.plan_to_json(result.plan)),
    }
    AllocationRound.objects.filter(pk=round_id).update(plan=plan)


def _remember_promotions(round_id: int, promoted: list[Booking]) -> None:
    """Keep the promoted outcomes with the round's plan, so reasons render in any language."""
    rnd = AllocationRound.objects.select_for_update().get(pk=round_id)
    plan = dict(rnd.plan or {})
    outcomes = dict(plan.get("outcomes") or {})
    for b in promoted:
        outcomes[str(b.pk)] = Outcome(
            b.pk,
            True,
            "promoted",
            {"resource": b.resource.name, "start": b.start.isoformat(), "end": b.end.isoformat()},
            b.resource.slug,
            b.start,
            b.end,
        ).as_json()
    plan["outcomes"] = outcomes
    AllocationRound.objects.filter(pk=round_id).update(plan=plan)
