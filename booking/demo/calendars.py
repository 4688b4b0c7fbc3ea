"""Busy calendars: instant bookings over the past month and the coming two weeks.

Every booking goes through ``booking_create_instant`` (opening hours, slot grid, notice,
horizon, trainings, quotas, overlaps); a past one is made as if booked two hours before it
started (``now``). Round-planned resources (lines, H100 nodes) get their past month checked by
the same ``booking_check`` and stored as a round would have confirmed them. A candidate the rules
refuse is not made: the calendars only ever show bookings the park would have accepted.
"""

from __future__ import annotations

import datetime as dt
import random
from dataclasses import dataclass, field

from django.utils import timezone

from booking.bookings.models import Booking, BookingEvent, BookingStatus
from booking.bookings.rules import booking_check
from booking.bookings.services import booking_create_instant
from booking.errors import ParkError
from booking.tenancy.models import Membership
from resources.models import BookingMode, Resource, ResourceKind, TrainingRecord, WeeklyHours

PAST_DAYS = 30
AHEAD_DAYS = 14

TITLES = {
    ResourceKind.GPU_NODE: ["model fine-tune", "protein folding", "vision training", "inference"],
    ResourceKind.PILOT_LINE: ["pilot run", "qualification lot", "customer samples"],
    ResourceKind.LAB_INSTRUMENT: ["sample batch", "time course", "QC run", "calibration"],
}
# Bookings tried per resource and day, and their length in slots (min, max).
PER_DAY = {ResourceKind.GPU_NODE: 1, ResourceKind.PILOT_LINE: 1, ResourceKind.LAB_INSTRUMENT: 2}
LENGTH_HOURS = {
    ResourceKind.GPU_NODE: (6, 24),
    ResourceKind.PILOT_LINE: (6, 12),
    ResourceKind.LAB_INSTRUMENT: (1, 4),
}


@dataclass
class Made:
    past: list[Booking] = field(default_factory=list)
    ahead: list[Booking] = field(default_factory=list)
    refused: int = 0


def _hours_by_weekday(resource: Resource) -> dict[int, list[tuple[dt.time, dt.time]]]:
    rows = WeeklyHours.objects.filter(resource=resource).values_list("weekday", "opens", "closes")
    hours: dict[int, list[tuple[dt.time, dt.time]]] = {}
    for weekday, opens, closes in rows:
        hours.setdefault(weekday, []).append((opens, closes))
    return hours or {d: [(dt.time(0, 0), dt.time(23, 59))] for d in range(7)}


def _candidate(resource, day, hours, rng) -> tuple[dt.datetime, dt.datetime] | None:
    spans = hours.get(day.weekday())
    if not spans:
        return None
    opens, closes = rng.choice(spans)
    tz = timezone.get_current_timezone()
    lo_h, hi_h = LENGTH_HOURS[ResourceKind(resource.kind)]
    length = dt.timedelta(hours=rng.randint(lo_h, hi_h))
    first = dt.datetime.combine(day, opens, tzinfo=tz)
    last = dt.datetime.combine(day, closes, tzinfo=tz) - length
    if resource.kind == ResourceKind.GPU_NODE:
        last = first + dt.timedelta(hours=23)
    if last < first:
        return None
    slot = dt.timedelta(minutes=resource.slot_minutes)
    start = first + slot * rng.randint(0, int((last - first) / slot))
    return start, start + length


def _trained(member: Membership, resource: Resource, trained: dict[int, set[int]]) -> bool:
    need = resource.required_training_id
    return need is None or member.user_id in trained.get(need, set())


def _units(resource, rng) -> int:
    return rng.choice([1, 1, 2, 4]) if resource.kind == ResourceKind.GPU_NODE else 1


def _store_planned(*, member, resource, start, end, units, title, recipe, now) -> Booking | None:
    """A past booking of a round-planned resource, checked by the instant-booking rules."""
    if booking_check(
        user=member.user,
        tenant=member.tenant,
        resource=resource,
        start=start,
        end=end,
        units=units,
        recipe=recipe,
        now=now,
    ):
        return None
    booking = Booking.objects.create(
        tenant=member.tenant,
        user=member.user,
        resource=resource,
        title=title,
        units=units,
        recipe=recipe,
        start=start,
        end=end,
        status=BookingStatus.CONFIRMED,
        exclusive=resource.capacity == 1,
    )
    BookingEvent.objects.create(
        booking=booking,
        from_status="",
        to_status=BookingStatus.CONFIRMED,
        actor=None,
        note="planned in an earlier round (demo data)",
    )
    return booking


def calendars_fill(*, rng: random.Random, favourite: Membership, now: dt.datetime) -> Made:
    """Book every active resource over [today − PAST_DAYS, today + AHEAD_DAYS)."""
    made = Made()
    today = timezone.localtime(now).date()
    members = list(Membership.objects.select_related("user", "tenant").order_by("pk"))
    trained: dict[int, set[int]] = {}
    for training_id, user_id in TrainingRecord.objects.values_list("training_id", "user_id"):
        trained.setdefault(training_id, set()).add(user_id)
    resources = list(
        Resource.objects.filter(active=True).prefetch_related("recipes").order_by("slug")
    )
    for resource in resources:
        hours = _hours_by_weekday(resource)
        kind = ResourceKind(resource.kind)
        planned = resource.booking_mode == BookingMode.ROUND
        recipes = list(resource.recipes.all())
        # Mostly members who hold the training (the others are refused by the rules anyway).
        pick_from = [m for m in members if _trained(m, resource, trained)] or members
        # Round-planned resources are booked ahead by the published round, not here.
        last_day = 0 if planned else AHEAD_DAYS
        for offset in range(-PAST_DAYS, last_day):
            day = today + dt.timedelta(days=offset)
            for _try in range(PER_DAY[kind]):
                span = _candidate(resource, day, hours, rng)
                if span is None:
                    continue
                start, end = span
                past = end <= now
                if not past and start < now + dt.timedelta(hours=2):
                    continue  # nothing running now except what the jobs module books
                member = favourite if rng.random() < 0.15 else rng.choice(pick_from)
                # Booked ahead as the rules ask: a round's bookings days before, others hours.
                ahead = dt.timedelta(days=3) if planned else dt.timedelta(hours=2)
                booked_at = min(now, start - ahead)
                title = f"{rng.choice(TITLES[kind])}"
                recipe = rng.choice(recipes) if recipes else None
                units = _units(resource, rng)
                if planned:
                    booking = _store_planned(
                        member=member,
                        resource=resource,
                        start=start,
                        end=end,
                        units=units,
                        title=title,
                        recipe=recipe,
                        now=booked_at,
                    )
                else:
                    try:
                        booking = booking_create_instant(
                            user=member.user,
                            tenant=member.tenant,
                            resource=resource,
                            start=start,
                            end=end,
                            units=units,
                            title=title,
                            recipe=recipe,
                            now=booked_at,
                        )
                    except ParkError:
                        booking = None
                if booking is None:
                    made.refused += 1
                elif end <= now:
                    made.past.append(booking)
                else:
                    made.ahead.append(booking)
    return made
