"""When a resource can be used: weekly opening hours and shifts as concrete intervals, interval
arithmetic, and capacity held over time.

The one copy of these rules, used by instant booking (``booking.bookings.rules``), calendars and
free slots (``booking.bookings.calendar``) and the planner adapter (``booking.rounds.adapter``).
Intervals are half-open ``[a, b)`` pairs of anything ordered (aware datetimes, slot numbers).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable

from django.utils import timezone

from resources.models import Resource, ResourceKind, WeeklyHours

# A closing time at or after this means "until midnight": a TimeField cannot hold 24:00.
MIDNIGHT_CLOSE = dt.time(23, 59)


def hours_purpose(resource: Resource) -> str:
    """Lines are bookable during technician shifts; everything else during opening hours."""
    if resource.kind == ResourceKind.PILOT_LINE:
        return WeeklyHours.Purpose.SHIFT
    return WeeklyHours.Purpose.OPENING


def merge_intervals[T](intervals: Iterable[tuple[T, T]]) -> list[tuple[T, T]]:
    """Sorted, non-overlapping intervals covering the same time; touching ones are joined."""
    out: list[tuple[T, T]] = []
    for a, b in sorted(intervals):
        if out and a <= out[-1][1]:
            out[-1] = (out[-1][0], max(out[-1][1], b))
        else:
            out.append((a, b))
    return out


def intersect_intervals[T](p: list[tuple[T, T]], q: list[tuple[T, T]]) -> list[tuple[T, T]]:
    """The time both merged interval lists ``p`` and ``q`` cover."""
    out, i, j = [], 0, 0
    while i < len(p) and j < len(q):
        a, b = max(p[i][0], q[j][0]), min(p[i][1], q[j][1])
        if a < b:
            out.append((a, b))
        if p[i][1] < q[j][1]:
            i += 1
        else:
            j += 1
    return out


def covered[T](intervals: list[tuple[T, T]], start: T, end: T) -> bool:
    """Whether one of the intervals holds all of [start, end)."""
    return any(a <= start and end <= b for a, b in intervals)


def open_intervals(
    *, weekly: list[tuple[int, dt.time, dt.time]], start: dt.datetime, end: dt.datetime
) -> list[tuple[dt.datetime, dt.datetime]] | None:
    """Merged open intervals (aware, local time) of weekly rows ``(weekday, opens, closes)``
    that touch [start, end). ``None`` means the resource has no hours set: always open.

    A closing time of 23:59 means "until midnight", so a line staffed round the clock has no
    one-minute gap each night.
    """
    if not weekly:
        return None
    tz = timezone.get_current_timezone()
    by_day: dict[int, list[tuple[dt.time, dt.time]]] = {}
    for weekday, opens, closes in weekly:
        by_day.setdefault(weekday, []).append((opens, closes))
    day = timezone.localtime(start).date() - dt.timedelta(days=1)
    last = timezone.localtime(end).date()
    intervals: list[tuple[dt.datetime, dt.datetime]] = []
    while day <= last:
        for opens, closes in by_day.get(day.weekday(), []):
            a = dt.datetime.combine(day, opens, tzinfo=tz)
            if closes >= MIDNIGHT_CLOSE:
                b = dt.datetime.combine(day + dt.timedelta(days=1), dt.time.min, tzinfo=tz)
            else:
                b = dt.datetime.combine(day, closes, tzinfo=tz)
            intervals.append((a, b))
        day += dt.timedelta(days=1)
    return [(a, b) for a, b in merge_intervals(intervals) if a < end and b > start]


def peak_units(rows, start: dt.datetime, end: dt.datetime) -> int:
    """Largest sum of ``units`` held at any instant of [start, end) by rows ``(start, end, units)``."""
    points = []
    for b_start, b_end, units in rows:
        a, b = max(b_start, start), min(b_end, end)
        if a < b:
            points.append((a, units))
            points.append((b, -units))
    # Ends sort before starts at the same instant: [a, b) and [b, c) do not overlap.
    points.sort(key=lambda p: (p[0], p[1]))
    peak = current = 0
    for _at, delta in points:
        current += delta
        peak = max(peak, current)
    return peak
