"""Recurring bookings: book a series (every occurrence by the instant-booking service), read
it, cancel one occurrence (``booking_cancel``) or it and all following ones.

A series is one ``BookingSeries`` row and its occurrences, ordinary bookings linked to it, so
every rule, the calendar, quotas and cancellation treat an occurrence like any booking.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from booking.bookings.models import Booking, BookingSeries, BookingStatus
from booking.bookings.notifications import notify_bookings
from booking.bookings.recurrence import Recurrence
from booking.bookings.rules import cancel_refusal
from booking.bookings.services import booking_cancel, booking_create_instant
from booking.errors import BookingRefused, Forbidden, NotFound, ParkError
from booking.formats import when_text
from booking.tenancy.access import is_member, may_act_for, visible_q
from booking.tenancy.models import Tenant
from resources.models import Recipe, Resource


@dataclass
class SeriesResult:
    series: BookingSeries
    booked: list[Booking] = field(default_factory=list)
    skipped: list[dict] = field(default_factory=list)


def _occurrence_error(number: int, start: dt.datetime, error: ParkError) -> ParkError:
    # The refusal of one occurrence, named by its number and time; code and field unchanged.
    return ParkError(
        error.code,
        _("%(message)s (occurrence %(number)s, %(when)s)")
        % {"number": number, "when": when_text(start), "message": error.message},
        field=error.field,
        status=error.status,
    )


def booking_series_create(
    *,
    user,
    tenant: Tenant,
    resource: Resource,
    start: dt.datetime,
    end: dt.datetime,
    recurrence: Recurrence,
    title: str,
    units: int = 1,
    recipe: Recipe | None = None,
    skip_conflicts: bool = False,
    now: dt.datetime | None = None,
) -> SeriesResult:
    """Book [``start``, ``end``) and its repeats by ``recurrence``, each occurrence through
    ``booking_create_instant`` (the same rules and locks as one booking; quota counts the
    occurrences booked before it in the series).

    Without ``skip_conflicts`` any refused occurrence refuses the whole series
    (``BookingRefused`` listing every refused occurrence and why) and nothing is stored. With
    it the free occurrences are booked and the others listed in ``skipped`` (start, end,
    errors); when no occurrence is free the series is refused all the same.
    Raises ``ParkError("recurrence_invalid")`` (422) for a rule outside the supported subset.
    """
    if start is None:
        raise BookingRefused([ParkError("start_required", _("Enter a start time."), field="start")])
    if end is None:
        raise BookingRefused([ParkError("end_required", _("Enter an end time."), field="end")])
    if end <= start:
        raise BookingRefused(
            [ParkError("end_before_start", _("The end must be after the start."), field="end")]
        )
    occurrences = recurrence.occurrences(start, end)
    with transaction.atomic():
        series = BookingSeries.objects.create(
            tenant=tenant,
            user=user,
            resource=resource,
            title=(title or "").strip()[:200],
            rule=recurrence.rrule(),
        )
        result = SeriesResult(series=series)
        refusals: list[ParkError] = []
        for number, (o_start, o_end) in enumerate(occurrences, start=1):
            try:
                booking = booking_create_instant(
                    user=user,
                    tenant=tenant,
                    resource=resource,
                    start=o_start,
                    end=o_end,
                    units=units,
                    title=title,
                    recipe=recipe,
                    now=now,
                    series=series,
                )
            except ParkError as exc:
                errors = getattr(exc, "errors", None) or [exc]
                refusals += [_occurrence_error(number, o_start, e) for e in errors]
                result.skipped.append(
                    {
                        "start": o_start.isoformat(),
                        "end": o_end.isoformat(),
                        "errors": [e.as_dict() for e in errors],
                    }
                )
            else:
                result.booked.append(booking)
        if refusals and (not skip_conflicts or not result.booked):
            raise BookingRefused(refusals)
        if result.skipped:
            series.skipped = result.skipped
            series.save(update_fields=["skipped"])
        items = [
            (
                b.pk,
                "pending_approval" if b.status == BookingStatus.PENDING_APPROVAL else "confirmed",
            )
            for b in result.booked
        ]
        transaction.on_commit(lambda: notify_bookings(items))
    return result


def series_get(*, user, pk) -> BookingSeries:
    """A series the user may see in full (own, or of a tenant they manage); else 404."""
    try:
        pk = int(pk)
    except (TypeError, ValueError):
        raise NotFound("series") from None
    qs = BookingSeries.objects.filter(pk=pk).select_related("tenant", "user", "resource")
    if not user.is_superuser:
        qs = qs.filter(visible_q(user=user))
    series = qs.first()
    if series is None:
        raise NotFound("series")
    return series


def series_occurrences(series: BookingSeries):
    return series.occurrences.order_by("start", "id")


def booking_cancel_following(
    *, user, booking: Booking, now: dt.datetime | None = None
) -> list[Booking]:
    """Cancel ``booking`` and every later occurrence of its series that may still be cancelled
    (started, completed or already cancelled ones are left as they are).

    Refused like ``booking_cancel`` (not found across tenants, a colleague's booking, this
    occurrence already started); ``ParkError("not_in_series")`` (409) for a single booking.
    All or nothing: one transaction. Out: the bookings cancelled, in time order.
    """
    now = now or timezone.now()
    if not may_act_for(user=user, owner_id=booking.user_id, tenant_id=booking.tenant_id):
        if is_member(user=user, tenant_id=booking.tenant_id):
            raise Forbidden(
                "not_owner",
                _("Only its owner or a manager of the tenant may cancel it."),
                field="booking",
            )
        raise NotFound("booking", field="booking")
    if booking.series_id is None:
        raise ParkError(
            "not_in_series",
            _("It is not part of a recurring series."),
            field="booking",
            status=409,
        )
    refusal = cancel_refusal(booking=booking, now=now)
    if refusal is not None:
        raise refusal
    cancelled = []
    with transaction.atomic():
        following = Booking.objects.filter(
            series_id=booking.series_id, start__gte=booking.start
        ).order_by("start", "id")
        for occurrence in following:
            if cancel_refusal(booking=occurrence, now=now) is None:
                cancelled.append(booking_cancel(user=user, booking=occurrence, now=now))
    return cancelled
