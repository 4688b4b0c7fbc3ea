"""Where a booking displaced by a closure can go: the first free time of the same length on the
same resource after the closure (``free_slot_after``), used to move it (a closure declared with
``handling=move``) or to offer that time to its owner when it is cancelled.

The search is a pure-Python pass over one read of the resource's opening hours, holding
bookings and maintenance in the search window; the booking rules (``booking_change`` →
``booking_check``) remain the judge of a move, so the search only proposes.
"""

from __future__ import annotations

import datetime as dt

from django.conf import settings
from django.utils import timezone

from booking.bookings.models import HOLDING_STATUSES, Booking
from resources.availability import covered, hours_purpose, open_intervals, peak_units
from resources.models import MaintenanceWindow, Resource, WeeklyHours


def _on_grid(value: dt.datetime, slot_minutes: int) -> dt.datetime:
    """``value`` rounded up to the resource's time grid (steps from local midnight)."""
    local = timezone.localtime(value)
    midnight = local.replace(hour=0, minute=0, second=0, microsecond=0)
    minutes = -(-int((local - midnight).total_seconds()) // 60)
    steps = -(-minutes // slot_minutes)
    return midnight + dt.timedelta(minutes=steps * slot_minutes)


def free_slots_after(
    *,
    resource: Resource,
    duration: dt.timedelta,
    after: dt.datetime,
    units: int = 1,
    exclude_booking_id: int | None = None,
    days: int | None = None,
    limit: int = 5,
) -> list[tuple[dt.datetime, dt.datetime]]:
    """Up to ``limit`` candidate [start, end) of ``duration`` on ``resource`` starting at or
    after ``after`` within ``days`` (``PARK_CLOSURE_MOVE_DAYS``, default 14): inside opening
    hours (shifts on a line), on the time grid, with room for ``units`` beside what is held."""
    days = days if days is not None else settings.PARK_CLOSURE_MOVE_DAYS
    horizon = after + dt.timedelta(days=days)
    weekly = list(
        WeeklyHours.objects.filter(resource=resource, purpose=hours_purpose(resource)).values_list(
            "weekday", "opens", "closes"
        )
    )
    opens = open_intervals(weekly=weekly, start=after, end=horizon) or [(after, horizon)]
    held = [
        (s, e, u)
        for s, e, u in Booking.objects.filter(
            resource=resource, status__in=HOLDING_STATUSES, start__lt=horizon, end__gt=after
        )
        .exclude(pk=exclude_booking_id)
        .values_list("start", "end", "units")
    ]
    held += [
        (s, e, resource.capacity)
        for s, e in MaintenanceWindow.objects.filter(
            resource=resource, start__lt=horizon, end__gt=after
        ).values_list("start", "end")
    ]
    # A free stretch starts where hours open or where something held ends.
    starts = {a for a, _b in opens} | {e for _s, e, _u in held} | {after}
    found: list[tuple[dt.datetime, dt.datetime]] = []
    for candidate in sorted({_on_grid(max(s, after), resource.slot_minutes) for s in starts}):
        end = candidate + duration
        if end > horizon:
            break
        if not covered(opens, candidate, end):
            continue
        if peak_units(held, candidate, end) + units > resource.capacity:
            continue
        found.append((candidate, end))
        if len(found) >= limit:
            break
    return found
