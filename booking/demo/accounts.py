"""Usage records and monthly statements for the demo's past month.

Check-ins and check-outs go through ``booking_check_in``/``booking_check_out`` at the moments
they would have happened (``now``); a technician records each line run; the sweep
(``usage_close_due``) then marks the no-shows and closes the GPU bookings from their jobs.
Rate cards are published through ``rate_card_publish``; last month's statements are closed
(final) and this month's are refreshed as drafts.
"""

from __future__ import annotations

import datetime as dt
import random
from decimal import Decimal

from booking.billing.models import RateUnit
from booking.billing.services import (
    cluster_factors,
    month_start,
    rate_book,
    rate_card_publish,
    statement_close,
    statement_for,
    statement_refresh,
)
from booking.bookings.models import Booking
from booking.tenancy.models import Tenant, Tier
from booking.usage.services import (
    booking_check_in,
    booking_check_out,
    line_run_complete,
    usage_close_due,
)
from resources.models import ResourceKind

NO_SHOW_SHARE = 0.08
# (class, unit, {tier: (peak, off-peak)}, minimum, no-show per hour, consumable, per wafer)
RATES = [
    (
        ResourceKind.GPU_NODE,
        RateUnit.GPU_HOUR,
        {Tier.STARTUP: (28, 18), Tier.ACADEMIC: (22, 14), Tier.ENTERPRISE: (36, 24)},
        0,
        0,
        "",
        0,
    ),
    (
        ResourceKind.LAB_INSTRUMENT,
        RateUnit.HOUR,
        {Tier.STARTUP: (380, 260), Tier.ACADEMIC: (300, 200), Tier.ENTERPRISE: (520, 360)},
        150,
        120,
        "",
        0,
    ),
    (
        ResourceKind.PILOT_LINE,
        RateUnit.HOUR,
        {Tier.STARTUP: (1600, 1100), Tier.ACADEMIC: (1300, 900), Tier.ENTERPRISE: (2200, 1500)},
        2000,
        600,
        "Wafer",
        450,
    ),
]


def usage_record(
    *, past: list[Booking], operator, rng: random.Random, now: dt.datetime
) -> dict[str, int]:
    """Check the past instrument and line bookings in and out (a few never come: no-shows)."""
    counts = {"checked_out": 0, "line_runs": 0}
    for booking in past:
        kind = booking.resource.kind
        if kind == ResourceKind.GPU_NODE or rng.random() < NO_SHOW_SHARE:
            continue
        arrived = booking.start + dt.timedelta(minutes=rng.randint(-10, 12))
        booking = booking_check_in(user=booking.user, booking=booking, now=arrived)
        if kind == ResourceKind.PILOT_LINE:
            line_run_complete(
                user=operator,
                booking=booking,
                actual_start=booking.start + dt.timedelta(minutes=20),
                actual_end=booking.end - dt.timedelta(minutes=rng.randint(0, 60)),
                lots=f"LOT-{rng.randint(1000, 9999)}",
                wafers=rng.randint(1, 12),
            )
            counts["line_runs"] += 1
        length = booking.end - booking.start
        early = length > dt.timedelta(hours=2) and rng.random() < 0.2
        left = booking.end - dt.timedelta(hours=1) if early else booking.end
        booking_check_out(user=booking.user, booking=booking, now=left)
        counts["checked_out"] += 1
    sweep = usage_close_due(now=now)
    counts["no_shows"] = len(sweep.no_shows)
    return counts


def rates_publish(*, today: dt.date, operator) -> int:
    """The rate cards of every class and tier, valid from two months back."""
    valid_from = month_start(month_start(today) - dt.timedelta(days=40))
    made = 0
    for kind, unit, prices, minimum, no_show, consumable, per_wafer in RATES:
        for tier, (peak, off_peak) in prices.items():
            rate_card_publish(
                by=operator,
                resource_class=kind,
                tier=tier,
                unit=unit,
                peak_price=Decimal(peak),
                off_peak_price=Decimal(off_peak),
                minimum_charge=Decimal(minimum),
                no_show_per_hour=Decimal(no_show),
                consumable_name=consumable,
                consumable_price=Decimal(per_wafer),
                valid_from=valid_from,
                note="demo park",
            )
            made += 1
    return made


def statements_make(*, today: dt.date, operator, now: dt.datetime) -> int:
    """Last month's statement of every tenant, final; this month's, a draft."""
    last_month = month_start(month_start(today) - dt.timedelta(days=1))
    context = {"rates": rate_book(), "factors": cluster_factors()}
    made = 0
    for tenant in Tenant.objects.order_by("pk"):
        statement_close(
            statement=statement_for(tenant=tenant, month=last_month),
            by=operator,
            now=now,
            **context,
        )
        statement_refresh(statement=statement_for(tenant=tenant, month=today), now=now, **context)
        made += 2
    return made
