"""Recurring bookings: the subset of RFC 5545 RRULE the park books, and its occurrences.

Read: ``FREQ`` DAILY or WEEKLY, ``INTERVAL`` (1–52), exactly one of ``COUNT`` (1–100) or
``UNTIL`` (a local date, inclusive), and for WEEKLY an optional ``BYDAY`` (MO…SU; the first
occurrence's weekday must be one of them). Every occurrence keeps the first one's local
wall-clock start and its length. The first occurrence is the booking's own start (DTSTART).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from django.utils import timezone
from django.utils.translation import gettext as _

from booking.errors import ParkError

WEEKDAYS = ("MO", "TU", "WE", "TH", "FR", "SA", "SU")
MAX_OCCURRENCES = 100
MAX_SPAN = dt.timedelta(days=366)


def _refused(field: str, message: str) -> ParkError:
    return ParkError("recurrence_invalid", message, field=f"recurrence.{field}", status=422)


@dataclass(frozen=True)
class Recurrence:
    freq: str  # "daily" or "weekly"
    interval: int = 1
    count: int | None = None
    until: dt.date | None = None
    by_day: tuple[str, ...] = ()

    def validate(self, start: dt.datetime) -> None:
        """Raise ``ParkError("recurrence_invalid")`` naming the part at fault."""
        if self.freq not in ("daily", "weekly"):
            raise _refused("freq", _("recurrence.freq: repeat daily or weekly."))
        if not 1 <= self.interval <= 52:
            raise _refused("interval", _("recurrence.interval: between 1 and 52."))
        if (self.count is None) == (self.until is None):
            raise _refused(
                "count", _("recurrence.count: give a number of occurrences or an end date.")
            )
        if self.count is not None and not 1 <= self.count <= MAX_OCCURRENCES:
            raise _refused(
                "count",
                _("recurrence.count: between 1 and %(max)s occurrences.")
                % {"max": MAX_OCCURRENCES},
            )
        first_day = timezone.localtime(start).date()
        if self.until is not None:
            if self.until < first_day:
                raise _refused(
                    "until", _("recurrence.until: the end date is before the first occurrence.")
                )
            if self.until - first_day > MAX_SPAN:
                raise _refused("until", _("recurrence.until: a series may span at most one year."))
        unknown = [d for d in self.by_day if d not in WEEKDAYS]
        if unknown:
            raise _refused("by_day", _("recurrence.by_day: use MO, TU, WE, TH, FR, SA or SU."))
        if self.by_day and self.freq != "weekly":
            raise _refused("by_day", _("recurrence.by_day: only for weekly series."))
        if self.by_day and WEEKDAYS[first_day.weekday()] not in self.by_day:
            raise _refused(
                "by_day",
                _("recurrence.by_day: must include the weekday of the first occurrence."),
            )

    def rrule(self) -> str:
        """The RFC 5545 RRULE text of this rule (stored with the series)."""
        parts = [f"FREQ={self.freq.upper()}"]
        if self.interval != 1:
            parts.append(f"INTERVAL={self.interval}")
        if self.count is not None:
            parts.append(f"COUNT={self.count}")
        if self.until is not None:
            parts.append(f"UNTIL={self.until:%Y%m%d}")
        if self.by_day:
            parts.append("BYDAY=" + ",".join(d for d in WEEKDAYS if d in self.by_day))
        return ";".join(parts)

    def _days(self, first: dt.date):
        if self.freq == "daily":
            day = first
            while True:
                yield day
                day += dt.timedelta(days=self.interval)
        wanted = sorted(WEEKDAYS.index(d) for d in (self.by_day or (WEEKDAYS[first.weekday()],)))
        monday = first - dt.timedelta(days=first.weekday())
        while True:
            for weekday in wanted:
                day = monday + dt.timedelta(days=weekday)
                if day >= first:
                    yield day
            monday += dt.timedelta(weeks=self.interval)

    def occurrences(
        self, start: dt.datetime, end: dt.datetime
    ) -> list[tuple[dt.datetime, dt.datetime]]:
        """Every occurrence's [start, end), the first being [start, end) itself."""
        self.validate(start)
        local = timezone.localtime(start)
        length = end - start
        limit = self.until or (local.date() + MAX_SPAN)
        out = []
        for day in self._days(local.date()):
            if day > limit or len(out) >= (self.count or MAX_OCCURRENCES + 1):
                break
            if len(out) >= MAX_OCCURRENCES:
                raise _refused(
                    "until",
                    _("recurrence.until: a series has at most %(max)s occurrences.")
                    % {"max": MAX_OCCURRENCES},
                )
            naive = dt.datetime.combine(day, local.time().replace(tzinfo=None))
            at = timezone.make_aware(naive, local.tzinfo)
            out.append((at, at + length))
        return out
