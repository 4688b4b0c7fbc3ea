"""Fixtures for billing: closed bookings with usage records at chosen local times in March
2026 (Monday 2 March is a weekday), and rate cards."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.utils import timezone

from tests.api.conftest import Api, fresh_api_cache, make_token  # noqa: F401

MARCH = dt.date(2026, 3, 1)


def at(day: int, hour: int, minute: int = 0, month: int = 3) -> dt.datetime:
    """A local time in 2026 (the park's time zone)."""
    return dt.datetime(2026, month, day, hour, minute, tzinfo=timezone.get_current_timezone())


def closed_booking(
    park,
    *,
    start: dt.datetime,
    hours: float = 1,
    resource=None,
    tenant=None,
    units: int = 1,
    no_show: bool = False,
    used_hours=None,
    checked_in=None,
    checked_out=None,
    wafers: int = 0,
):
    """A completed (or no-show) booking with its usage record, as the usage sweep leaves it."""
    from booking.bookings.models import Booking, BookingStatus
    from booking.usage.models import BookingUsage, LineRun, UsageSource

    tenant = tenant or park.acme
    user = park.alice if tenant == park.acme else park.charlie
    end = start + dt.timedelta(hours=hours)
    booking = Booking.objects.create(
        tenant=tenant,
        user=user,
        resource=resource or park.confocal,
        title="billing test",
        units=units,
        start=start,
        end=end,
        status=BookingStatus.NO_SHOW if no_show else BookingStatus.COMPLETED,
    )
    BookingUsage.objects.create(
        booking=booking,
        source=UsageSource.NO_SHOW if no_show else UsageSource.CHECK_IN,
        no_show=no_show,
        checked_in_at=checked_in,
        checked_out_at=checked_out,
        used_hours=None
        if no_show
        else Decimal(str(used_hours if used_hours is not None else hours * units)),
        charged_hours=Decimal(0),
        closed_at=end,
    )
    if wafers:
        LineRun.objects.create(
            booking=booking, technician=park.olga, actual_start=start, actual_end=end, wafers=wafers
        )
    return booking


def card(**fields):
    from booking.billing.services import rate_card_publish

    defaults = {
        "resource_class": "instrument",
        "tier": "startup",
        "unit": "hour",
        "peak_price": Decimal("100.00"),
        "off_peak_price": Decimal("60.00"),
        "valid_from": dt.date(2026, 1, 1),
    }
    defaults.update(fields)
    if defaults.get("resource") is not None:
        defaults["resource_class"] = ""
    return rate_card_publish(**defaults)


@pytest.fixture
def bob_api(park) -> Api:
    return Api(make_token(park.bob, park.acme))


@pytest.fixture
def alice_api(park) -> Api:
    return Api(make_token(park.alice, park.acme))


@pytest.fixture
def charlie_api(park) -> Api:
    return Api(make_token(park.charlie, park.globex))
