"""A resource's week as calendar blocks, and its free slots (opening hours, maintenance and bookings)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from django.db.models import (
    Case,
    Q,
    Value,
    When,
)
from django.utils import timezone

from booking.bookings.models import HOLDING_STATUSES, Booking
from booking.tenancy.access import visible_q
from resources.availability import hours_purpose, open_intervals
from resources.models import MaintenanceWindow, Resource, WeeklyHours


@dataclass(frozen=True)
class CalendarBlock:
    """One block in a day column: ``kind`` is own / busy / maintenance / closed."""

    kind: str
    start: dt.datetime
    end: dt.datetime
    title: str = ""
    units: int = 0
    booking_id: int | None = None
    top: float = 0.0  # % of the day column
    height: float = 0.0
    left: float = 0.0  # % of the column width: overlapping bookings of a shared GPU node
    width: float = 100.0  # sit side by side in lanes


@dataclass(frozen=True)
class CalendarDay:
    date: dt.date
    blocks: list[CalendarBlock]


@dataclass(frozen=True)
class ResourceWeek:
    resource: Resource
    week_start: dt.date
    days: list[CalendarDay]
    hours: list[int]

    @property
    def previous_week(self) -> dt.date:
        return self.week_start - dt.timedelta(days=7)

    @property
    def next_week(self) -> dt.date:
        return self.week_start + dt.timedelta(days=7)

    @property
    def week_end(self) -> dt.date:
        return self.week_start + dt.timedelta(days=6)


def week_monday(day: dt.date) -> dt.date:
    return day - dt.timedelta(days=day.weekday())


def _day_blocks(day_start, day_end, items) -> list[CalendarBlock]:
    total = (day_end - day_start).total_seconds()
    clipped = []
    for kind, start, end, title, units, booking_id in items:
        a, b = max(start, day_start), min(end, day_end)
        if a < b:
            clipped.append((kind, a, b, title, units, booking_id))
    # Bookings that overlap (only possible on a shared GPU node) get a lane each.
    lane_ends: list = []
    lanes: dict[int, int] = {}
    for index, (kind, a, b, *_rest) in sorted(
        enumerate(clipped), key=lambda item: (item[1][1], item[1][2])
    ):
        if kind not in ("own", "busy"):
            continue
        lane = next((i for i, end in enumerate(lane_ends) if end <= a), len(lane_ends))
        if lane == len(lane_ends):
            lane_ends.append(b)
        else:
            lane_ends[lane] = b
        lanes[index] = lane
    width = 100 / max(1, len(lane_ends))
    blocks = []
    for index, (kind, a, b, title, units, booking_id) in enumerate(clipped):
        lane = lanes.get(index)
        blocks.append(
            CalendarBlock(
                kind=kind,
                start=a,
                end=b,
                title=title,
                units=units,
                booking_id=booking_id,
                top=round((a - day_start).total_seconds() * 100 / total, 3),
                height=round((b - a).total_seconds() * 100 / total, 3),
                left=round(lane * width, 3) if lane is not None else 0.0,
                width=round(width, 3) if lane is not None else 100.0,
            )
        )
    return blocks


def resource_week(*, user, resource: Resource, week_start: dt.date) -> ResourceWeek:
    """A week of ``resource`` for ``user``: their own (and managed tenants') bookings with
    titles, everyone else's as anonymous "busy" (no title, user or tenant), maintenance windows
    and closed hours. Always three SQL queries, however many bookings the week holds."""
    tz = timezone.get_current_timezone()
    week_start = week_monday(week_start)
    start = dt.datetime.combine(week_start, dt.time.min, tzinfo=tz)
    end = dt.datetime.combine(week_start + dt.timedelta(days=7), dt.time.min, tzinfo=tz)

    mine = visible_q(user=user) if user.is_authenticated else Q(pk__in=[])
    rows = (
        Booking.objects.filter(
            resource=resource, status__in=HOLDING_STATUSES, start__lt=end, end__gt=start
        )
        .annotate(mine=Case(When(mine, then=Value(True)), default=Value(False)))
        .order_by("start", "id")
        .values_list("id", "start", "end", "units", "title", "mine")
    )
    items = []
    for pk, b_start, b_end, units, title, is_mine in rows:
        if is_mine:
            items.append(("own", b_start, b_end, title, units, pk))
        else:
            items.append(("busy", b_start, b_end, "", units, None))
    for m_start, m_end, reason in MaintenanceWindow.objects.filter(
        resource=resource, start__lt=end, end__gt=start
    ).values_list("start", "end", "reason"):
        items.append(("maintenance", m_start, m_end, reason, 0, None))
    weekly = list(
        WeeklyHours.objects.filter(resource=resource, purpose=hours_purpose(resource))
        .order_by()  # no default ordering: it would join the resource table for nothing
        .values_list("weekday", "opens", "closes")
    )
    opened = open_intervals(weekly=weekly, start=start, end=end)
    if opened is not None:
        # Closed hours are the gaps between open intervals.
        cursor = start
        for a, b in opened:
            if a > cursor:
                items.append(("closed", cursor, a, "", 0, None))
            cursor = max(cursor, b)
        if cursor < end:
            items.append(("closed", cursor, end, "", 0, None))
    # Closed first so bookings and maintenance draw over them.
    order = {"closed": 0, "maintenance": 1, "busy": 2, "own": 3}
    items.sort(key=lambda item: (order[item[0]], item[1]))
    days = []
    for i in range(7):
        day = week_start + dt.timedelta(days=i)
        day_start = dt.datetime.combine(day, dt.time.min, tzinfo=tz)
        day_end = dt.datetime.combine(day + dt.timedelta(days=1), dt.time.min, tzinfo=tz)
        days.append(CalendarDay(date=day, blocks=_day_blocks(day_start, day_end, items)))
    return ResourceWeek(
        resource=resource, week_start=week_start, days=days, hours=list(range(0, 24, 2))
    )


@dataclass(frozen=True)
class FreeSlot:
    resource_id: int
    start: dt.datetime
    end: dt.datetime
    free_units: int


def availability(
    *, resource: Resource, start: dt.datetime, end: dt.datetime, units: int = 1
) -> list[FreeSlot]:
    """Free intervals of ``resource`` in [start, end) where ``units`` more can be booked:
    inside opening hours / shifts, outside maintenance, with capacity left. ``free_units`` is the
    least capacity left during the interval. Three SQL queries. Booking rules such as notice or
    length are not applied here (``booking_check`` does that for a concrete slot)."""
    if end <= start or units < 1 or units > resource.capacity:
        return []
    weekly = list(
        WeeklyHours.objects.filter(resource=resource, purpose=hours_purpose(resource))
        .order_by()
        .values_list("weekday", "opens", "closes")
    )
    opened = open_intervals(weekly=weekly, start=start, end=end)
    if opened is None:
        opened = [(start, end)]
    opened = [(max(a, start), min(b, end)) for a, b in opened]
    blocked = list(
        MaintenanceWindow.objects.filter(resource=resource, start__lt=end, end__gt=start)
        .order_by()
        .values_list("start", "end")
    )
    booked = list(
        Booking.objects.filter(
            resource=resource, status__in=HOLDING_STATUSES, start__lt=end, end__gt=start
        )
        .order_by()
        .values_list("start", "end", "units")
    )
    # Sweep over every instant where something changes; a segment is free when it is open,
    # not under maintenance and has enough capacity left.
    points = {start, end}
    for a, b in opened + blocked:
        points.update((a, b))
    for a, b, _u in booked:
        points.update((a, b))
    points = sorted(p for p in points if start <= p <= end)
    slots: list[FreeSlot] = []
    for a, b in zip(points, points[1:], strict=False):
        if not any(o_a <= a and b <= o_b for o_a, o_b in opened):
            continue
        if any(m_a < b and m_b > a for m_a, m_b in blocked):
            continue
        used = sum(u for b_a, b_b, u in booked if b_a < b and b_b > a)
        left = resource.capacity - used
        if left < units:
            continue
        if slots and slots[-1].end == a:
            prev = slots[-1]
            slots[-1] = FreeSlot(resource.pk, prev.start, b, min(prev.free_units, left))
        else:
            slots.append(FreeSlot(resource.pk, a, b, left))
    return slots


def pool_availability(
    *, pool, start: dt.datetime, end: dt.datetime, units: int = 1
) -> dict[int, list[FreeSlot]]:
    """``availability`` of every active member of a pool, keyed by resource id."""
    return {
        member.pk: availability(resource=member, start=start, end=end, units=units)
        for member in pool.members.filter(active=True).order_by("name")
    }
