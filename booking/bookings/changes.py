"""Changing a booking's times: move or shorten it before it starts, or give back the unused end
of a running one. The same rules as a new booking (``booking_check`` without the booking
itself, so the quota counts only the difference), under the same locks.

Rules, in order:
- who: its owner, a manager of its tenant or an operator (others: not found / forbidden);
- what: a confirmed or in-use booking with times; a round request is changed by cancelling it
  and sending a new one before the cut-off, and a booking a round placed only until the round's
  cut-off (after it the plan is fixed for everyone else too);
- before it starts: any new [start, end) that passes every booking rule for its owner;
- once started: only an earlier end, not before now, on the resource's time steps (the rest of
  the slot is handed back; minimum length does not apply to giving time back).
"""

from __future__ import annotations

import datetime as dt

from django.db import IntegrityError, OperationalError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from booking.bookings.hooks import round_desk
from booking.bookings.models import Booking, BookingEvent, BookingStatus
from booking.bookings.notifications import notify_booking
from booking.bookings.rules import booking_check
from booking.errors import BookingRefused, Conflict, Forbidden, NotFound, ParkError
from booking.formats import when_text
from booking.tenancy.access import is_member, may_act_for
from booking.tenancy.models import Tenant
from resources.models import Resource

CHANGEABLE = (BookingStatus.CONFIRMED, BookingStatus.IN_USE)


def _refuse(code: str, message: str, field: str, status: int = 409) -> ParkError:
    return ParkError(code, message, field=field, status=status)


def _running_end_errors(booking: Booking, end: dt.datetime, now: dt.datetime) -> list[ParkError]:
    errors = []
    slot = booking.resource.slot_minutes
    local = timezone.localtime(end)
    if (local.hour * 60 + local.minute) % slot or local.second or local.microsecond:
        errors.append(
            ParkError(
                "not_on_slot",
                _("Times on %(name)s go in steps of %(slot)s minutes.")
                % {"name": booking.resource.name, "slot": slot},
                field="end",
            )
        )
    if end < now:
        errors.append(
            _refuse(
                "end_in_past",
                _("The new end is in the past; give back time from now on."),
                "end",
                400,
            )
        )
    if end >= booking.end:
        errors.append(
            _refuse(
                "running_extend",
                _("A running booking can only end earlier (it ends %(end)s).")
                % {"end": when_text(booking.end)},
                "end",
            )
        )
    return errors


def booking_change(
    *,
    user,
    booking: Booking,
    start: dt.datetime | None = None,
    end: dt.datetime | None = None,
    now: dt.datetime | None = None,
) -> Booking:
    """Move or shorten ``booking`` to [``start``, ``end``) (either left ``None`` keeps its
    current value). Out: the booking, refreshed; an event records the old and new times and
    the owner is told (``moved``) once it commits. Raises ``BookingRefused`` listing every
    broken rule, ``ParkError`` for a booking that cannot change (409) and
    ``Conflict("slot_taken")`` when a concurrent booking won the time. Nothing is written on
    refusal.
    """
    now = now or timezone.now()
    if not may_act_for(user=user, owner_id=booking.user_id, tenant_id=booking.tenant_id):
        if is_member(user=user, tenant_id=booking.tenant_id):
            raise Forbidden(
                "not_owner",
                _("Only its owner or a manager of the tenant may change it."),
                field="booking",
            )
        raise NotFound("booking", field="booking")
    if start is None and end is None:
        raise _refuse("nothing_to_change", _("Give a new start, a new end or both."), "start", 422)
    if booking.status not in CHANGEABLE or booking.start is None or booking.resource_id is None:
        raise _refuse(
            "not_changeable",
            _("A booking that is %(status)s cannot be changed; cancel it instead.")
            % {"status": BookingStatus(booking.status).label},
            "booking",
        )
    if booking.round_id is not None and booking.round.cutoff <= now:
        raise _refuse(
            "round_cutoff_passed",
            _("The round “%(round)s” closed at %(cutoff)s; its bookings are fixed.")
            % {"round": booking.round.name, "cutoff": when_text(booking.round.cutoff)},
            "booking",
        )
    new_start = start or booking.start
    new_end = end or booking.end
    old_start, old_end = booking.start, booking.end
    running = booking.start <= now
    if running and new_start != booking.start:
        raise _refuse(
            "already_started",
            _("It started at %(start)s; only its end can move earlier.")
            % {"start": when_text(booking.start)},
            "start",
        )
    try:
        with transaction.atomic():
            # Lock order: Resource → Tenant → Booking (services.py).
            resource = Resource.objects.select_for_update().get(pk=booking.resource_id)
            tenant = Tenant.objects.select_for_update().get(pk=booking.tenant_id)
            locked = Booking.objects.select_for_update().filter(pk=booking.pk).first()
            if locked is None or (locked.status, locked.start, locked.end) != (
                booking.status,
                booking.start,
                booking.end,
            ):
                raise Conflict(
                    "status_changed",
                    _("This booking was changed meanwhile; reload and try again."),
                    field="status",
                )
            if running:
                errors = _running_end_errors(locked, new_end, now)
            else:
                errors = booking_check(
                    user=locked.user,
                    tenant=tenant,
                    resource=resource,
                    start=new_start,
                    end=new_end,
                    units=locked.units,
                    recipe=locked.recipe,
                    now=now,
                    exclude_booking_id=locked.pk,
                )
            if errors:
                raise BookingRefused(errors)
            Booking.objects.filter(pk=locked.pk).update(
                start=new_start, end=new_end, updated_at=timezone.now()
            )
            BookingEvent.objects.create(
                booking_id=locked.pk,
                from_status=locked.status,
                to_status=locked.status,
                actor=user,
                note=f"times {old_start.isoformat()}–{old_end.isoformat()} → "
                f"{new_start.isoformat()}–{new_end.isoformat()}",
            )
            transaction.on_commit(lambda: notify_booking(booking=locked, event="moved"))
    except IntegrityError:
        raise Conflict(
            "slot_taken",
            _("This slot has just been taken by another booking; choose another time."),
            field="start",
        ) from None
    except OperationalError as exc:
        if "deadlock" in str(exc).lower():
            raise Conflict(
                "slot_taken",
                _("This slot has just been taken by another booking; choose another time."),
                field="start",
            ) from None
        raise
    booking.refresh_from_db()
    return booking


def booking_or_request_change(
    *,
    user,
    booking: Booking,
    start: dt.datetime | None = None,
    end: dt.datetime | None = None,
    earliest_start: dt.datetime | None = None,
    latest_end: dt.datetime | None = None,
    duration_minutes: int | None = None,
) -> Booking:
    """One entry for ``PATCH /bookings/{id}``: a round request gets a new window or duration
    (rounds owns that rule, through the desk), anything else new times (``booking_change``).
    Times meant for the other kind are refused naming the field, before anything is read."""
    window = {
        "earliest_start": earliest_start,
        "latest_end": latest_end,
        "duration_minutes": duration_minutes,
    }
    if booking.status == BookingStatus.REQUESTED:
        if start is not None or end is not None:
            raise _refuse(
                "request_has_window",
                _(
                    "A round request has a window: give a new earliest start, latest end or duration."
                ),
                "start" if start is not None else "end",
                422,
            )
        return round_desk().request_change(user=user, booking=booking, **window)
    given = [name for name, value in window.items() if value is not None]
    if given:
        raise _refuse(
            "not_a_request",
            _("Only a round request has a window; give this booking a new start or end."),
            given[0],
            422,
        )
    return booking_change(user=user, booking=booking, start=start, end=end)
