"""The waitlist: time freed by a cancellation is re-planned among a round's waitlisted requests."""

from __future__ import annotations

import datetime as dt
import logging

from django.db import IntegrityError, transaction
from django.utils import timezone

from booking.bookings.models import HOLDING_STATUSES, Booking, BookingStatus
from booking.bookings.services import booking_transition
from booking.errors import ParkError
from booking.rounds import solving
from booking.rounds.adapter import round_problem_build
from booking.rounds.lifecycle import Status
from booking.rounds.models import AllocationRound
from booking.rounds.outcomes import Outcome, outcomes_from_plan
from booking.rounds.reasons import reason_text_stored
from booking.rounds.services import bookings_for_mail, check_free

# A waitlist re-plan runs inside a member's cancel request: keep it short.
WAITLIST_TIME_LIMIT = 5.0

logger = logging.getLogger(__name__)


def waitlist_on_cancel(*, booking: Booking, now: dt.datetime | None = None) -> list[Booking]:
    """Re-plan the time a cancelled round booking freed among the round's waitlisted requests.

    Called by ``booking_cancel`` after a confirmed booking is cancelled. The waitlisted requests
    of the same (published) round are planned again under the same fairness contract, over the
    time no booking holds from now on; those that now fit become CONFIRMED (reason
    ``promoted``) and their owners are told. Returns the promoted bookings.
    """
    from booking.bookings.notifications import notify_booking

    if booking.round_id is None:
        return []
    now = now or timezone.now()
    promoted: list[Booking] = []
    with transaction.atomic():
        # One waitlist re-plan per round at a time.
        rnd = AllocationRound.objects.select_for_update().filter(pk=booking.round_id).first()
        if rnd is None or rnd.status != Status.PUBLISHED or rnd.period_end <= now:
            return []
        waiting = list(rnd.requests.filter(status=BookingStatus.WAITLISTED))
        if not waiting:
            return []
        exclude = [booking] if booking.status in HOLDING_STATUSES else []
        try:
            rp = round_problem_build(round=rnd, bookings=waiting, not_before=now, exclude=exclude)
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
        for pk, outcome in sorted(outcomes.items()):
            if not outcome.granted:
                continue
            candidate = rp.bookings[str(pk)]
            resource = rp.resources[outcome.resource]
            params = dict(outcome.params)
            try:
                with transaction.atomic():
                    check_free([(candidate, resource, outcome.start, outcome.end)])
                    done = booking_transition(
                        booking=candidate,
                        to_status=BookingStatus.CONFIRMED,
                        actor=None,
                        note=f"promoted from the waitlist after booking {booking.pk} was cancelled",
                        resource=resource,
                        start=outcome.start,
                        end=outcome.end,
                        reason_code="promoted",
                        reason_text=reason_text_stored("promoted", params),
                    )
            except (ParkError, IntegrityError) as exc:
                # Someone took the time or changed the request meanwhile: it stays waitlisted.
                logger.info("waitlisted request %s not promoted: %s", pk, exc)
                continue
            promoted.append(done)
        if promoted:
            _remember_promotions(rnd, promoted)

            def send():
                rows = bookings_for_mail([b.pk for b in promoted])
                for b in promoted:
                    notify_booking(booking=rows[b.pk], event="promoted", extra={"round": rnd})

            transaction.on_commit(send)
    return promoted


def _remember_promotions(rnd: AllocationRound, promoted: list[Booking]) -> None:
    """Keep the promoted outcomes with the round's plan, so reasons render in any language."""
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
    AllocationRound.objects.filter(pk=rnd.pk).update(plan=plan)
