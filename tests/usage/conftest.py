"""Fixtures for usage tests: a clock to travel with, instant bookings at chosen local times,
and the API clients of tests/api (alice and bob of Acme, charlie of Globex)."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

from tests.api.conftest import Api, fresh_api_cache, make_token  # noqa: F401


def local(days: int, hour: int, minute: int = 0, second: int = 0) -> dt.datetime:
    """A local time ``days`` from today (the park's time zone)."""
    day = timezone.localdate() + dt.timedelta(days=days)
    return dt.datetime.combine(
        day, dt.time(hour, minute, second), tzinfo=timezone.get_current_timezone()
    )


def book(
    park,
    *,
    start: dt.datetime,
    minutes: int = 60,
    user=None,
    tenant=None,
    resource=None,
    units: int = 1,
    title: str = "usage test",
):
    """A confirmed instant booking (booked an hour before it starts)."""
    from booking.bookings.services import booking_create_instant

    return booking_create_instant(
        user=user or park.alice,
        tenant=tenant or park.acme,
        resource=resource or park.confocal,
        start=start,
        end=start + dt.timedelta(minutes=minutes),
        units=units,
        title=title,
        now=start - dt.timedelta(hours=1),
    )


@pytest.fixture
def alice_api(park) -> Api:
    return Api(make_token(park.alice, park.acme))


@pytest.fixture
def bob_api(park) -> Api:
    return Api(make_token(park.bob, park.acme))


@pytest.fixture
def charlie_api(park) -> Api:
    return Api(make_token(park.charlie, park.globex))
