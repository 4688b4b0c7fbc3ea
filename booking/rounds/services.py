"""Allocation rounds: create, run the planner, publish.

Life cycle of a round: OPEN (requests gather) → CLOSED (at or before the cut-off) → SOLVING (the
planner runs in a huey task) → SOLVED (the operator reviews the plan) → PUBLISHED (outcomes
written to the requests, people told). A SOLVED round may be planned again. Status changes are
compare-and-set (``rounds.lifecycle``); request status changes go through
``booking.bookings.services.booking_transition``.
"""

from __future__ import annotations

import datetime as dt
import logging

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import IntegrityError, OperationalError, transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext as _

from booking.bookings.models import Booking, BookingStatus
from booking.bookings.notifications import notify_bookings
from booking.errors import Conflict, NotFound, ParkError
from booking.rounds import preview
from booking.rounds.lifecycle import Status, _round_cas, solve_stale_after
from booking.rounds.models import AllocationRound, WhatIfPreview
from booking.rounds.outcomes import (
    Outcome,
    booking_apply_outcome,
    check_free,
    check_on_grid,
    stored_outcomes,
)
from booking.rounds.solving import round_plan_solve
from booking.rounds.tasks import round_solve_task, what_if_preview_task
from resources.models import (
    Resource,
)

logger = logging.getLogger(__name__)


def round_create(
    *,
    name: str,
    period_start: dt.datetime,
    period_end: dt.datetime,
    cutoff: dt.datetime,
    time_limit_seconds: int | None = None,
    actor=None,
) -> AllocationRound:
    """Open a new round for requests over [period_start, period_end), closing at ``cutoff``."""
    name = (name or "").strip()
    if not name:
        raise ParkError("name_required", _("Give the round a name."), field="name")
    for field, value in (
        ("period_start", period_start),
        ("period_end", period_end),
        ("cutoff", cutoff),
    ):
        if value is None:
            raise ParkError(
                f"{field}_required", _("Required."), params={"field": field}, field=field
            )
    if period_end <= period_start:
        raise ParkError(
            "period_ends_before_start",
            _("The period must end after it starts."),
            field="period_end",
        )
    if cutoff > period_start:
        raise ParkError(
            "cutoff_after_start",
            _("The cut-off must not be after the period starts."),
            field="cutoff",
        )
    if cutoff <= timezone.now():
        raise ParkError("cutoff_in_past", _("The cut-off must be in the future."), field="cutoff")
    limit = time_limit_seconds or int(settings.PLANNER_TIME_LIMIT)
    if not 1 <= limit <= 600:
        raise ParkError(
            "bad_time_limit",
            _("Between 1 and 600 seconds."),
            field="time_limit_seconds",
        )
    rnd = AllocationRound(
        name=name[:120],
        period_start=period_start,
        period_end=period_end,
        cutoff=cutoff,
        time_limit_seconds=limit,
        status=Status.OPEN,
    )
    try:
        rnd.full_clean()
    except ValidationError as exc:
        field, messages = next(iter(exc.message_dict.items()))
        raise ParkError("invalid_round", f"{field}: {' '.join(messages)}", field=field) from None
    with transaction.atomic():
        rnd.save()
    logger.info("round %s opened by %s", rnd.pk, actor)
    return rnd


def round_run_planner(*, allocation_round: AllocationRound, actor=None) -> AllocationRound:
    """CLOSED or SOLVED (or SOLVING for longer than ``solve_stale_after``) → SOLVING, and queue
    the planner (a huey task) once this commits.

    Only one caller can win the status change, so two solves of a round never run at once;
    the task also takes a huey lock per round.
    """
    with transaction.atomic():
        rnd = _round_cas(
            allocation_round,
            old=(Status.CLOSED, Status.SOLVED),
            new=Status.SOLVING,
            code="round_not_closed",
            # A planner that died (worker killed, queue lost) must not lock the round for ever.
            also=Q(
                status=Status.SOLVING,
                solve_started_at__lt=timezone.now() - solve_stale_after(allocation_round),
            ),
            solve_started_at=timezone.now(),
            solve_error="",
        )
        transaction.on_commit(lambda: round_solve_task(rnd.pk))
    return rnd


def round_solve_now(*, allocation_round: AllocationRound) -> AllocationRound | None:
    """Run the planner of a SOLVING round in this process (the huey task calls this)."""
    return round_plan_solve(round_id=allocation_round.pk)


def round_publish(*, allocation_round: AllocationRound, actor=None) -> AllocationRound:
    """SOLVED → PUBLISHED, writing every request's outcome in one transaction.

    Granted → CONFIRMED with resource/start/end (reason ``granted`` or ``moved``); not granted →
    WAITLISTED, or REFUSED when the reason means it can never fit (no valid training, no
    feasible start, more than the quota). Each owner is told once the transaction commits.
    Requests cancelled since the plan was made are left alone.
    """
    notices: list[tuple[Booking, str, dict]] = []
    try:
        with transaction.atomic():
            rnd = AllocationRound.objects.select_for_update().filter(pk=allocation_round.pk).first()
            if rnd is None:
                raise NotFound("round", field="round")
            if rnd.status != Status.SOLVED:
                raise Conflict(
                    "round_not_solved",
                    _("The round is %(status)s; only a planned round can be published."),
                    params={"status": Status(rnd.status).label},
                    field="status",
                )
            outcomes = stored_outcomes(rnd)
            bookings = {
                b.pk: b
                for b in rnd.requests.filter(status=BookingStatus.REQUESTED).select_related(
                    "user", "tenant", "resource"
                )
            }
            resources = {
                r.slug: r
                for r in Resource.objects.filter(
                    slug__in={o.resource for o in outcomes.values() if o.resource}
                ).select_related("gpu")
            }
            if any(o.granted and o.resource not in resources for o in outcomes.values()):
                raise Conflict(
                    "plan_stale",
                    _("A resource of the plan no longer exists; run the planner again."),
                    field="round",
                )
            granted = [
                (bookings[pk], resources[o.resource], o.start, o.end)
                for pk, o in outcomes.items()
                if o.granted and pk in bookings
            ]
            check_on_grid(granted)
            check_free(granted)
            for pk, booking in sorted(bookings.items()):
                outcome = outcomes.get(pk) or Outcome(pk, False, "not_planned", {})
                resource = resources[outcome.resource] if outcome.granted else None
                booking = booking_apply_outcome(
                    booking=booking,
                    outcome=outcome,
                    resource=resource,
                    actor=actor,
                    note=f"round {rnd.pk}: {outcome.code}",
                )
                if booking.status == BookingStatus.PENDING_APPROVAL:
                    event = "pending_approval"  # granted, waiting for the resource's approvers
                elif outcome.granted:
                    # The reason text says when and why; a window was never a booked time.
                    event = "moved" if outcome.code == "moved" else "confirmed"
                else:
                    event = str(booking.status)
                notices.append((booking, event, {}))
            rnd = _round_cas(
                rnd,
                old=(Status.SOLVED,),
                new=Status.PUBLISHED,
                code="round_not_solved",
                published_at=timezone.now(),
                published_by=actor,
            )

            mails = [(b.pk, event) for b, event, _extra in notices]
            transaction.on_commit(lambda: notify_bookings(mails))
    except (IntegrityError, OperationalError) as exc:
        if isinstance(exc, OperationalError) and "deadlock" not in str(exc).lower():
            raise
        raise Conflict(
            "plan_stale",
            _("A granted slot has been booked since the plan was made; run the planner again."),
            field="round",
        ) from None
    return rnd


def _json_changes(weights: dict, quotas: dict) -> tuple[dict, dict]:
    """Weights and quotas keyed by tenant slug, numbers as text (Decimals keep their digits)."""
    slug = preview._tenant_slug
    w = {slug(k): str(v) for k, v in (weights or {}).items()}
    q = {
        slug(k): {cls: None if h is None else str(h) for cls, h in (per or {}).items()}
        for k, per in (quotas or {}).items()
    }
    return w, q


def what_if_preview_start(
    *, allocation_round: AllocationRound, weights: dict, quotas: dict, actor=None
) -> WhatIfPreview:
    """Check a what-if's changes and store them as a QUEUED preview; the planner runs in a
    huey task queued once this commits (``what_if_preview_task``), never here.

    Raises what ``preview.what_if_check`` raises (no plan yet, a bad weight or quota); nothing
    is stored then."""
    rnd = AllocationRound.objects.get(pk=allocation_round.pk)
    preview.what_if_check(allocation_round=rnd, weights=weights, quotas=quotas)
    w, q = _json_changes(weights, quotas)
    with transaction.atomic():
        made = WhatIfPreview.objects.create(
            allocation_round=rnd,
            requested_by=actor,
            weights=w,
            quotas=q,
            plan_digest=preview.plan_digest(rnd),
        )
        transaction.on_commit(lambda: what_if_preview_task(made.pk))
    return made


def what_if_preview_again(*, preview_obj: WhatIfPreview, actor=None) -> WhatIfPreview:
    """Run a preview again: a stale one is asked anew of the current plan (a new preview); a
    failed one, or one whose worker died, is queued again. Anything else is left as it is."""
    preview.what_if_preview_refresh(preview_obj)
    Status = WhatIfPreview.Status
    if preview_obj.status == Status.STALE:
        return what_if_preview_start(
            allocation_round=preview_obj.allocation_round,
            weights=preview_obj.weights,
            quotas=preview_obj.quotas,
            actor=actor,
        )
    if preview_obj.status == Status.FAILED or preview.preview_is_dead(preview_obj):
        with transaction.atomic():
            if WhatIfPreview.objects.filter(pk=preview_obj.pk, status=preview_obj.status).update(
                status=Status.QUEUED, created_at=timezone.now(), started_at=None, error=""
            ):
                transaction.on_commit(lambda: what_if_preview_task(preview_obj.pk))
        preview_obj.refresh_from_db()
    return preview_obj
