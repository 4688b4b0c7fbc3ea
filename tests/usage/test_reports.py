"""Reports: every figure equals a sum over the rows the test made; the CSV parses; operators
only."""

from __future__ import annotations

import csv
import datetime as dt
import io
from decimal import Decimal

import pytest
from django.test import Client

from booking.bookings.models import Booking, BookingEvent, BookingStatus
from booking.compute.models import ComputeJob
from booking.usage.models import BookingUsage
from booking.usage.reports import funder_report, utilisation, waitlist_waits
from tests.rounds import round_fixtures
from tests.usage.conftest import local

week_round = round_fixtures.week_round

pytestmark = pytest.mark.django_db


def _booking(
    park, *, resource, tenant, user, start, hours, status, used=None, units=1, booked_end=None
):
    b = Booking.objects.create(
        tenant=tenant,
        user=user,
        resource=resource,
        title="r",
        units=units,
        start=start,
        end=start + dt.timedelta(hours=hours),
        status=status,
    )
    if used is not None or status == BookingStatus.NO_SHOW:
        BookingUsage.objects.create(
            booking=b,
            source="check_in",
            used_hours=Decimal(str(used or 0)),
            no_show=status == BookingStatus.NO_SHOW,
            booked_end=booked_end,
        )
    return b


@pytest.fixture
def rows(park):
    """A week of bookings with known figures (Monday of the week after next)."""
    monday = local(14, 0)
    monday -= dt.timedelta(days=monday.weekday())
    at = lambda d, h: monday + dt.timedelta(days=d, hours=h)  # noqa: E731
    made = [
        _booking(
            park,
            resource=park.confocal,
            tenant=park.acme,
            user=park.alice,
            start=at(0, 9),
            hours=2,
            status=BookingStatus.COMPLETED,
            used=1.5,
        ),
        _booking(
            park,
            resource=park.confocal,
            tenant=park.acme,
            user=park.alice,
            start=at(1, 9),
            hours=1,
            status=BookingStatus.NO_SHOW,
        ),
        _booking(
            park,
            resource=park.confocal,
            tenant=park.globex,
            user=park.charlie,
            start=at(2, 9),
            hours=3,
            status=BookingStatus.COMPLETED,
            used=2.5,
            booked_end=at(2, 13),
        ),
        _booking(
            park,
            resource=park.gpu,
            tenant=park.globex,
            user=park.charlie,
            start=at(3, 9),
            hours=4,
            status=BookingStatus.CONFIRMED,
            units=2,
        ),
        # Cancelled bookings are not usage.
        _booking(
            park,
            resource=park.confocal,
            tenant=park.acme,
            user=park.alice,
            start=at(4, 9),
            hours=2,
            status=BookingStatus.CANCELLED,
        ),
    ]
    ComputeJob.objects.create(
        tenant=park.acme,
        user=park.bob,
        name="j",
        script="#!/bin/sh\n",
        partition="gpu",
        gpus=1,
        time_limit_minutes=60,
        state="completed",
        gpu_hours=Decimal("0.75"),
    )
    return {"monday": monday, "bookings": made}


@pytest.fixture
def olga(park):
    """The park's operator, signed in: the reports are hers."""
    client = Client()
    client.force_login(park.olga)
    return client


def _span(rows):
    first = rows["monday"].date()
    return first, first + dt.timedelta(days=7)


def _booked(b):
    usage = BookingUsage.objects.filter(booking=b).first()
    end = usage.booked_end if usage and usage.booked_end else b.end
    return b.units * (end - b.start).total_seconds() / 3600


def test_utilisation_by_class_is_the_sum_of_the_bookings(park, rows):
    start, end = _span(rows)
    result = {r.group: r for r in utilisation(start=start, end=end, bucket="week", group="class")}
    measured = [b for b in rows["bookings"] if b.status != BookingStatus.CANCELLED]
    for kind in ("instrument", "gpu"):
        mine = [b for b in measured if b.resource.kind == kind]
        r = result[kind]
        assert r.booked_hours == pytest.approx(sum(_booked(b) for b in mine))
        used = [BookingUsage.objects.filter(booking=b, no_show=False).first() for b in mine]
        assert r.used_hours == pytest.approx(sum(float(u.used_hours) for u in used if u))
        assert r.bookings == len(mine)
    inst = result["instrument"]
    assert inst.booked_hours == pytest.approx(2 + 1 + 4)  # the early check-out counts as booked
    assert inst.no_show_hours == pytest.approx(1) and inst.no_shows == 1
    assert inst.no_show_rate == pytest.approx(1 / 3)
    # Capacity: confocal and XRD open 12 h a day for 7 days.
    assert inst.capacity_hours == pytest.approx(2 * 12 * 7)
    assert inst.utilisation == pytest.approx(4 / (2 * 12 * 7))
    # GPU node: 4 GPUs, always open.
    assert result["gpu"].capacity_hours == pytest.approx(4 * 24 * 7)


def test_utilisation_by_tenant_tier_and_park_adds_up_to_the_same_total(park, rows):
    start, end = _span(rows)
    totals = {}
    for group in ("resource", "tenant", "tier", "park", "class"):
        result = utilisation(start=start, end=end, bucket="month", group=group)
        totals[group] = (
            round(sum(r.booked_hours for r in result), 6),
            round(sum(r.used_hours for r in result), 6),
            sum(r.no_shows for r in result),
        )
    assert len(set(totals.values())) == 1
    by_tenant = {r.group: r for r in utilisation(start=start, end=end, group="tenant")}
    assert by_tenant["acme"].booked_hours == pytest.approx(3)
    assert by_tenant["globex"].booked_hours == pytest.approx(4 + 8)
    by_park = {r.group: r for r in utilisation(start=start, end=end, group="park")}
    assert by_park["hk"].label == "Hong Kong" and by_park["sz"].used_hours == pytest.approx(2.5)


def test_the_funder_report_counts_tenants_users_hours_and_jobs_per_tier(park, rows):
    start, end = _span(rows)
    by_tier = {r.tier: r for r in funder_report(start=start, end=end + dt.timedelta(days=30))}
    assert (by_tier["startup"].tenants, by_tier["startup"].bookings) == (1, 2)
    assert by_tier["startup"].booked_hours == pytest.approx(3)
    assert by_tier["enterprise"].booked_hours == pytest.approx(12)
    assert by_tier["enterprise"].used_hours == pytest.approx(2.5)
    assert by_tier["academic"].bookings == 0


def test_the_funder_report_counts_jobs_created_in_the_period(park, rows):
    today = dt.date.today()
    by_tier = {
        r.tier: r
        for r in funder_report(start=today - dt.timedelta(days=1), end=today + dt.timedelta(days=2))
    }
    assert by_tier["startup"].jobs == 1
    assert by_tier["startup"].job_gpu_hours == pytest.approx(0.75)
    assert by_tier["startup"].users == 1  # bob, who ran the job


def test_waitlist_waits_are_measured_from_the_events(park, week_round):
    b = Booking.objects.create(
        tenant=park.acme,
        user=park.alice,
        resource=park.xrd,
        round=week_round,
        title="w",
        duration_minutes=60,
        status=BookingStatus.CONFIRMED,
        start=week_round.period_start,
        end=week_round.period_start + dt.timedelta(hours=1),
    )
    t0 = week_round.period_start - dt.timedelta(days=2)
    BookingEvent.objects.create(booking=b, from_status="requested", to_status="waitlisted")
    BookingEvent.objects.create(booking=b, from_status="waitlisted", to_status="confirmed")
    BookingEvent.objects.filter(booking=b, to_status="waitlisted").update(at=t0)
    BookingEvent.objects.filter(booking=b, to_status="confirmed").update(
        at=t0 + dt.timedelta(hours=5)
    )
    day = week_round.period_start.date()
    [row] = waitlist_waits(start=day - dt.timedelta(days=1), end=day + dt.timedelta(days=1))
    assert row.promoted == 1 and row.median_wait_hours == pytest.approx(5)


def test_the_page_shows_the_tables_and_every_csv_parses(park, olga, rows):
    start, end = _span(rows)
    q = {"start": start.isoformat(), "end": end.isoformat(), "group": "class"}
    page = olga.get("/reports/", q)
    assert page.status_code == 200
    html = page.content.decode()
    assert "<svg" in html and "table-funder" in html
    for table in ("utilisation", "rounds", "waits", "funder"):
        r = olga.get("/reports/", {**q, "export": table})
        assert r.status_code == 200 and r["Content-Type"].startswith("text/csv")
        parsed = list(csv.reader(io.StringIO(r.content.decode())))
        assert len(parsed) >= 1 and all(len(row) == len(parsed[0]) for row in parsed)
    util = list(
        csv.DictReader(
            io.StringIO(olga.get("/reports/", {**q, "export": "utilisation"}).content.decode())
        )
    )
    inst = next(r for r in util if r["Group"] == "Lab instrument")
    assert float(inst["Booked hours"]) == pytest.approx(7)
    assert float(inst["Used hours"]) == pytest.approx(4)


def test_reports_are_for_operators_only(park, rows):
    for user in (park.alice, park.bob, park.charlie):
        c = Client()
        c.force_login(user)
        assert c.get("/reports/").status_code == 403
        assert c.get("/reports/", {"export": "funder"}).status_code == 403
    assert Client().get("/reports/").status_code == 302


def test_bad_filters_are_named_and_fall_back(park, olga):
    r = olga.get("/reports/", {"start": "2026-13-01", "end": "2026-01-01", "bucket": "x"})
    assert r.status_code == 200
    assert "start: enter a date" in r.content.decode()
    assert olga.get("/reports/", {"export": "nope"}).status_code == 404


@pytest.mark.parametrize(("lang", "word"), [("zh-hant", "使用報告"), ("zh-hans", "使用报告")])
def test_the_reports_page_speaks_chinese(park, olga, lang, word):
    olga.cookies["django_language"] = lang
    html = olga.get("/reports/").content.decode()
    assert word in html and "Usage reports" not in html
