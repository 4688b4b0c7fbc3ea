"""Opening hours and shifts as concrete intervals, and capacity held over time: the one copy used by instant booking, calendars and the planner adapter."""

from __future__ import annotations

import datetime as dt

from django.utils import timezone

from resources.models import Resource, ResourceKind, WeeklyHours


def hours_purpose(resource: Resource) -> str:
    """Lines are bookable during technician shifts; everything else during opening hours."""
    if resource.kind == ResourceKind.PILOT_LINE:
        return WeeklyHours.Purpose.SHIFT
    return WeeklyHours.Purpose.OPENING


def open_intervals(
    *, weekly: list[tuple[int, dt.time, dt.time]], start: dt.datetime, end: dt.datetime
) -> list[tuple[dt.datetime, dt.datetime]] | None:
    """Merged open intervals (aware, local time) of weekly rows ``(weekday, opens, closes)``
    that touch [start, end). ``None`` means the resource has no hours set: always open.

    A closing time of 23:59 means "until midnight" (a TimeField cannot hold 24:00), so a
    line staffed round the clock has no one-minute gap each night.
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
        for opens, closes in sorted(by_day.get(day.weekday(), [])):
            a = dt.datetime.combine(day, opens, tzinfo=tz)
            if closes >= dt.time(23, 59):
                b = dt.datetime.combine(day + dt.timedelta(days=1), dt.time.min, tzinfo=tz)
            else:
                b = dt.datetime.combine(day, closes, tzinfo=tz)
            if intervals and a <= intervals[-1][1]:
                intervals[-1] = (intervals[-1][0], max(intervals[-1][1], b))
            else:
                intervals.append((a, b))
        day += dt.timedelta(days=1)
    return [(a, b) for a, b in intervals if a < end and b > start]


def covered(intervals: list[tuple[dt.datetime, dt.datetime]], start, end) -> bool:
    return any(a <= start and end <= b for a, b in intervals)


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
