"""Changing a round request before its round's cut-off: a new window, a new duration, or both.

The same rules as sending it (``round_request_check`` and the rules that need the locked round),
checked for its owner; after the cut-off the plan is made for everyone and nothing changes. A
request's place in a chain, its resource or pool, units, CPUs, memory and recipe stay as sent: for
those, cancel it and send a new one. They are checked again all the same (a node may have shrunk).
"""

from __future__ import annotations

import datetime as dt

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from booking.bookings.models import Booking, BookingEvent, BookingStatus
from booking.errors import BookingRefused, Conflict, Forbidden, NotFound, ParkError
from booking.rounds.models import AllocationRound
from booking.rounds.requests import round_problems, round_request_check
from booking.tenancy.access import is_member, may_act_for


def round_request_change(
    *,
    user,
    booking: Booking,
    earliest_start: dt.datetime | None = None,
    latest_end: dt.datetime | None = None,
    duration_minutes: int | None = None,
    now: dt.datetime | None = None,
) -> Booking:
    """Give the REQUESTED ``booking`` a new window [``earliest_start``, ``latest_end``) and/or
    ``duration_minutes`` (a field left ``None`` keeps its value), before the round's cut-off.
    Out: the request, refreshed, with an event recording the old and new values. Raises
    ``BookingRefused`` listing every broken rule, ``ParkError("not_changeable")`` for anything
    but an open request, ``Conflict("status_changed")`` when it changed meanwhile. Locks: the
    round, then the request (the order ``round_request_create`` and the planner use)."""
    now = now or timezone.now()
    if not may_act_for(user=user, owner_id=booking.user_id, tenant_id=booking.tenant_id):
        if is_member(user=user, tenant_id=booking.tenant_id):
            raise Forbidden(
                "not_owner",
                _("Only its owner or a manager of the tenant may change it."),
                field="booking",
            )
        raise NotFound("booking", field="booking")
    if earliest_start is None and latest_end is None and duration_minutes is None:
        raise ParkError(
            "nothing_to_change",
            _("Give a new window, a new duration or both."),
            field="earliest_start",
            status=422,
        )
    if booking.status != BookingStatus.REQUESTED or booking.round_id is None:
        raise ParkError(
            "not_changeable",
            _("A booking that is %(status)s cannot be changed; cancel it instead.")
            % {"status": BookingStatus(booking.status).label},
            field="booking",
            status=409,
        )
    new_start = earliest_start or booking.earliest_start
    new_end = latest_end or booking.latest_end
    new_duration = duration_minutes if duration_minutes is not None else booking.duration_minutes
    with transaction.atomic():
        rnd = AllocationRound.objects.select_for_update().get(pk=booking.round_id)
        locked = Booking.objects.select_for_update().filter(pk=booking.pk).first()
        if locked is None or (
            locked.status,
            locked.earliest_start,
            locked.latest_end,
            locked.duration_minutes,
        ) != (booking.status, booking.earliest_start, booking.latest_end, booking.duration_minutes):
            raise Conflict(
                "status_changed",
                _("This booking was changed meanwhile; reload and try again."),
                field="status",
            )
        errors, found = round_request_check(
            user=locked.user,
            tenant=locked.tenant,
            resource=locked.resource,
            pool=locked.pool,
            earliest_start=new_start,
            latest_end=new_end,
            duration_minutes=new_duration,
            units=locked.units,
            cpus=locked.cpus,
            memory_gb=locked.memory_gb,
            recipe=locked.recipe,
            priority=locked.priority,
            title=locked.title,
        )
        # Its chain is unchanged (and already valid): only the round's own rules again.
        errors += round_problems(
            rnd=rnd,
            now=now,
            earliest_start=new_start,
            latest_end=new_end,
            tenant=locked.tenant,
            follows=None,
            max_gap_minutes=None,
        )
        if errors:
            raise BookingRefused(errors)
        Booking.objects.filter(pk=locked.pk).update(
            earliest_start=new_start,
            latest_end=new_end,
            duration_minutes=found["duration"],
            updated_at=timezone.now(),
        )
        BookingEvent.objects.create(
            booking_id=locked.pk,
            from_status=locked.status,
            to_status=locked.status,
            actor=user,
            note=(
                f"window {locked.earliest_start.isoformat()}–{locked.latest_end.isoformat()} "
                f"{locked.duration_minutes} min → {new_start.isoformat()}–{new_end.isoformat()} "
                f"{found['duration']} min"
            ),
        )
    booking.refresh_from_db()
    return booking
