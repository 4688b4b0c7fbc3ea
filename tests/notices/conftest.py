"""Fixtures for reminder tests: a fixed Monday morning in the park, a clock frozen on it, and
bookings, rounds and trainings placed around it."""

from __future__ import annotations

import datetime as dt
import zoneinfo

import pytest
import time_machine

from tests.usage.conftest import book as usage_book

HK = zoneinfo.ZoneInfo("Asia/Hong_Kong")
# Monday 7 December 2026, 09:00 in Hong Kong: a quota week starts that day.
MONDAY = dt.datetime(2026, 12, 7, 9, 0, tzinfo=HK)
MIN = dt.timedelta(minutes=1)
HOUR = dt.timedelta(hours=1)
DAY = dt.timedelta(days=1)


@pytest.fixture
def clock():
    """A clock frozen at ``MONDAY``; ``clock.move_to(moment)`` jumps (still frozen)."""
    with time_machine.travel(MONDAY, tick=False) as traveller:
        yield traveller


def book(park, *, start: dt.datetime, minutes: int = 60, title: str = "Imaging run", **who):
    """A confirmed instant booking of the confocal by alice unless told (booked an hour
    before it starts, every rule checked): the usage tests' helper."""
    return usage_book(park, start=start, minutes=minutes, title=title, **who)


def tick(now: dt.datetime, kinds=None):
    """One pass of the reminder tasks at ``now`` (every kind unless told)."""
    from booking.notices.due import FINDERS
    from booking.notices.tasks import notices_tick

    return notices_tick(now=now, kinds=tuple(kinds or FINDERS))


def prefer(user, **changes):
    from booking.notices.selectors import notice_preference_for
    from booking.notices.services import notice_preference_set

    current = notice_preference_for(user=user)
    fields = {
        f: getattr(current, f)
        for f in (
            "booking_start",
            "lead_minutes",
            "training_expiry",
            "quota",
            "round_cutoff",
            "approval_due",
            "delivery",
            "digest_hour",
        )
    }
    return notice_preference_set(user=user, **{**fields, **changes})


def speaks(user, language: str) -> None:
    from booking.tenancy.models import UserLanguage

    UserLanguage.objects.update_or_create(user=user, defaults={"language": language})
