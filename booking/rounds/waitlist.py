"""The waitlist: time freed by a cancellation is re-planned among a round's waitlisted requests.

The re-plan runs in a huey task (``rounds.tasks.waitlist_replan_task``), never in the request
that cancelled: the cancellation commits, then ``rounds.desk.replan_after_cancel`` queues the
task. The task holds the round's lease (``round_lease_name``) while it plans, so two re-plans of
one round never run at once; a cancellation arriving meanwhile asks the holder to run again.
"""

from __future__ import annotations

import datetime as dt
import logging

from django.db import IntegrityError, transaction
from django.utils import timezone

from booking.bookings.models import Booking, BookingStatus
from booking.bookings.notifications import notify_bookings
from booking.errors import ParkError
from booking.rounds import solving
from booking.rounds.adapter import round_problem_build
from booking.rounds.lifecycle import Status
from booking.rounds.models import AllocationRound
from booking.rounds.outcomes import Outcome, booking_apply_outcome, check_free, outcomes_from_plan

# Seconds the planner may take for one waitlist re-plan.
WAITLIST_TIME_LIMIT = 5.0

logger = logging.getLogger(__name__)


def round_lease_name(round_id: int) -> str:
    """The lease one planner run of a round holds (solving it, or re-planning its waitlist)."""
    return f"round-{round_id}"


def waitlist_replan(
    *, round_id: int, cancelled_booking_id: int | None = None, now: dt.datetime | None = None
) -> list[Booking]:
    """Re-plan the time free from now on among a published round's waitlisted requests.

    In: the round's id (the caller holds its lease), the cancelled booking (for the event
    note). The waitlisted requests are planned again under the same fairness contract over the
    time no booking holds; those that now fit become CONFIRMED (reason ``promoted``) and their
    owners are told once this commits. Out: the promoted bookings. A failing planner leaves
    everything as it was (logged).
    """
    now = now or timezone.now()
    rnd = AllocationRound.objects.filter(pk=round_id).first()
    if rnd is None or rnd.status != Status.PUBLISHED or rnd.period_end <= now:
        return []
    waiting = list(rnd.requests.filter(status=BookingStatus.WAITLISTED))
    if not waiting:
        return []
    try:
        rp = round_problem_build(allocation_round=rnd, bookings=waiting, not_before=now)
        if not rp.problem.requests:
            return []
        plan, _wall = solving.solve_round_problem(
            rp, time_limit=min(WAITLIST_TIME_LIMIT, float(rnd.time_limit_seconds))
        )
    except Exception:  # noqa: BLE001 - the cancellation stands even if re-planning fails
        logger.exception("re-planning the waitlist of round %s failed", rnd.pk)
        return []
    names = {slug: r.name for slug, r in rp.resources.items()}
    outcomes = outcomes_from_plan(
        problem=rp.problem, plan=plan, bookings=rp.bookings, resource_names=names
    )
    note = "promoted from the waitlist after a cancellation"
    if cancelled_booking_id is not None:
        note = f"promoted from the waitlist after booking {cancelled_booking_id} was cancelled"
    promoted: list[Booking] = []
    with transaction.atomic():
        for pk, outcome in sorted(outcomes.items()):
            if not outcome.granted:
                continue
            candidate = rp.bookings[str(pk)]
            resource = rp.resources[outcome.resource]
            try:
                with transaction.atomic():
                    # Bookings made since the plan was read win: the time must still be free.
                    check_free([(candidate, resource, outcome.start, outcome.end)])
                    done = booking_apply_outcome(
                        booking=candidate,
                        outcome=outcome,
                        resource=resource,
                        note=note,
                        code="promoted",
                    )
            except (ParkError, IntegrityError) as exc:
                # Someone took the time or changed the request meanwhile: it stays waitlisted.
                logger.info("waitlisted request %s not promoted: %s", pk, exc)
                continue
            promoted.append(done)
        if promoted:
            _remember_promotions(rnd.pk, promoted)
            mails = [(b.pk, "promoted") for b in promoted]
            transaction.on_commit(lambda: notify_bookings(mails))
    return promoted


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
