"""The daily usage tables: after any mix of changes (by every kind of writer), the folded
tables equal a recomputation from the booking rows; the rebuild gives the same; capacity
subtracts maintenance inside the open hours; the page folds a short journal itself."""

from __future__ import annotations

import datetime as dt
import random
from collections import defaultdict
from decimal import Decimal

import pytest
from django.db import IntegrityError, transaction
from django.test import Client
from django.utils import timezone

from booking.bookings.models import Booking, BookingStatus
from booking.bookings.services import booking_transition
from booking.errors import Conflict
from booking.usage import daily
from booking.usage.models import (
    BookingUsage,
    ResourceDayUsage,
    TenantDayTotal,
    TenantDayUsage,
    UsageChange,
)
from booking.usage.reports import buckets, utilisation
from resources.services import maintenance_add
from tests.usage.conftest import local

pytestmark = pytest.mark.django_db

MEASURED = {"confirmed", "in_use", "completed", "no_show"}


def _expected() -> tuple[dict, dict, dict]:
    """The three tables recomputed here, in Python, from every booking row."""
    by_resource: dict = defaultdict(lambda: [0, 0, 0, 0, Decimal(0)])
    by_member: dict = defaultdict(lambda: [0, 0, 0, 0, Decimal(0)])
    by_tenant: dict = defaultdict(lambda: [0, 0, 0, 0, Decimal(0)])
    usage = {u.booking_id: u for u in BookingUsage.objects.all()}
    for b in Booking.objects.all():
        if b.status not in MEASURED or b.start is None or b.resource_id is None:
            continue
        u = usage.get(b.pk)
        end = u.booked_end if u and u.booked_end else b.end
        seconds = b.units * round((end - b.start).total_seconds())
        day = timezone.localtime(b.start).date()
        for cell in (
            by_resource[(b.resource_id, day)],
            by_member[(b.tenant_id, b.user_id, day)],
            by_tenant[(b.tenant_id, day)],
        ):
            cell[0] += 1
            cell[2] += seconds
            if b.status == BookingStatus.NO_SHOW:
                cell[1] += 1
                cell[3] += seconds
            elif u and u.used_hours is not None:
                cell[4] += u.used_hours
    return dict(by_resource), dict(by_member), dict(by_tenant)


def _tables() -> tuple[dict, dict, dict]:
    def figures(r):
        return [r.bookings, r.no_shows, r.booked_seconds, r.no_show_seconds, r.used_hours]

    return (
        {(r.resource_id, r.day): figures(r) for r in ResourceDayUsage.objects.all()},
        {(r.tenant_id, r.user_id, r.day): figures(r) for r in TenantDayUsage.objects.all()},
        {(r.tenant_id, r.day): figures(r) for r in TenantDayTotal.objects.all()},
    )


def _random_changes(park, rng: random.Random, n: int) -> None:
    """``n`` random writes; a write PostgreSQL refuses (overlap on an exclusive resource) is rolled
    back with its journal rows, as a refused write in the product is."""
    made: list[Booking] = []
    for _ in range(n):
        try:
            with transaction.atomic():
                _random_change(park, rng, made)
        except (IntegrityError, Conflict):
            made[:] = [b for b in made if Booking.objects.filter(pk=b.pk).exists()]
        if rng.random() < 0.2:
            daily.usage_fold(limit=rng.randint(1, 10))  # folds interleaved with the changes


def _random_change(park, rng: random.Random, made: list[Booking]) -> None:
    resources = [park.confocal, park.xrd, park.gpu]
    members = [(park.acme, park.alice), (park.acme, park.bob), (park.globex, park.charlie)]
    action = rng.choice(["create", "create", "transition", "move", "usage", "delete", "bulk"])
    if action == "create" or not made:
        tenant, user = rng.choice(members)
        start = local(rng.randint(-3, 3), rng.randint(0, 22), rng.choice([0, 30]))
        made.append(
            Booking.objects.create(
                tenant=tenant,
                user=user,
                resource=rng.choice(resources),
                title="random",
                units=rng.randint(1, 2),
                start=start,
                end=start + dt.timedelta(minutes=rng.choice([30, 60, 150])),
                status=rng.choice(["confirmed", "requested", "completed"]),
            )
        )
        return
    b = rng.choice(made)
    b.refresh_from_db()
    if action == "transition" and b.status == "confirmed":
        booking_transition(booking=b, to_status=rng.choice(["no_show", "cancelled"]))
    elif action == "move":  # a queryset update, as the planner's and sweeps' writes are
        Booking.objects.filter(pk=b.pk).update(
            start=b.start + dt.timedelta(days=1),
            end=b.end + dt.timedelta(days=1),
            resource=rng.choice(resources),
        )
    elif action == "usage":
        used = Decimal(rng.randint(0, 400)) / 100
        BookingUsage.objects.update_or_create(
            booking=b,
            defaults={
                "source": "check_in",
                "used_hours": used,
                "booked_end": b.end + dt.timedelta(minutes=30) if rng.random() < 0.3 else None,
            },
        )
    elif action == "delete":
        made.remove(b)
        b.delete()
    elif action == "bulk":  # many at once, as the no-show sweep does
        ids = [x.pk for x in rng.sample(made, min(3, len(made)))]
        Booking.objects.filter(pk__in=ids).update(status="completed")


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_the_folded_tables_equal_a_recomputation_after_random_changes(park, seed):
    _random_changes(park, random.Random(seed), 120)
    assert UsageChange.objects.exists()  # the triggers wrote the journal
    while daily.usage_fold(limit=50) > 0:
        pass
    assert not UsageChange.objects.exists()
    expected = _expected()
    assert expected[0]  # the changes left usage to count
    assert _tables() == expected
    daily.usage_rebuild()
    assert _tables() == expected


def test_a_fold_running_elsewhere_is_not_joined(park):
    from booking.leases import lease_acquire, lease_release

    _random_changes(park, random.Random(4), 5)
    holder = lease_acquire(name=daily.FOLD_LEASE, seconds=60)
    assert daily.usage_fold() == -1 and UsageChange.objects.exists()
    lease_release(name=daily.FOLD_LEASE, holder=holder)
    assert daily.usage_fold() > 0


def _week():
    monday = local(14, 0)
    monday -= dt.timedelta(days=monday.weekday())
    return monday


def test_capacity_subtracts_maintenance_inside_the_open_hours(park):
    monday = _week()
    start, end = monday.date(), monday.date() + dt.timedelta(days=7)
    at = lambda d, h: monday + dt.timedelta(days=d, hours=h)  # noqa: E731
    # GPU node (4 GPUs, always open): two overlapping windows, 10:00–16:00 lost once.
    maintenance_add(resource=park.gpu, start=at(0, 10), end=at(0, 14))
    maintenance_add(resource=park.gpu, start=at(0, 12), end=at(0, 16))
    # Confocal (open 08:00–20:00): 06:00–10:00 costs 2 h; a night window costs nothing.
    maintenance_add(resource=park.confocal, start=at(1, 6), end=at(1, 10))
    maintenance_add(resource=park.confocal, start=at(2, 21), end=at(2, 23))
    # Across the end of the report: only the part inside counts (none of it is open here).
    maintenance_add(resource=park.xrd, start=at(6, 22), end=at(8, 10))
    by = {r.group: r for r in utilisation(start=start, end=end, bucket="week", group="resource")}
    assert by[park.gpu.slug].capacity_hours == pytest.approx(4 * (24 * 7 - 6))
    assert by[park.confocal.slug].capacity_hours == pytest.approx(12 * 7 - 2)
    assert by[park.xrd.slug].capacity_hours == pytest.approx(12 * 7)
    by_class = {r.group: r for r in utilisation(start=start, end=end, group="class")}
    assert by_class["instrument"].capacity_hours == pytest.approx(2 * 12 * 7 - 2)


def test_capacity_counts_each_weekday_of_a_partial_bucket(park):
    from resources.models import WeeklyHours

    monday = _week().date()
    WeeklyHours.objects.filter(resource=park.confocal, weekday__in=[5, 6]).delete()
    # Thursday to the next Tuesday: Thu, Fri, Mon, Tue open (Sat/Sun closed now).
    start, end = monday + dt.timedelta(days=3), monday + dt.timedelta(days=9)
    spans = buckets(start, end, "month")
    cap = daily.capacity_hours(start=start, end=end, spans=spans)
    assert sum(v for (pk, _), v in cap.items() if pk == park.confocal.pk) == pytest.approx(4 * 12)


def test_the_page_folds_a_short_journal_and_names_a_long_one(park, monkeypatch):
    olga = Client()
    olga.force_login(park.olga)
    start = local(1, 9)
    Booking.objects.create(
        tenant=park.acme,
        user=park.alice,
        resource=park.confocal,
        title="t",
        start=start,
        end=start + dt.timedelta(hours=2),
        status="confirmed",
    )
    day = start.date()
    q = {"start": day.isoformat(), "end": (day + dt.timedelta(days=1)).isoformat()}

    def booked() -> float:
        by = {r.group: r for r in utilisation(start=day, end=day + dt.timedelta(days=1))}
        return by["instrument"].booked_hours

    monkeypatch.setattr(daily, "INLINE_FOLD_LIMIT", 0)
    assert "still being counted" in olga.get("/reports/", q).content.decode()
    assert UsageChange.objects.exists() and booked() == 0
    monkeypatch.setattr(daily, "INLINE_FOLD_LIMIT", 2000)
    assert "still being counted" not in olga.get("/reports/", q).content.decode()
    assert not UsageChange.objects.exists() and booked() == pytest.approx(2)


def test_the_rebuild_command_rebuilds_the_tables(park):
    from django.core.management import call_command

    _random_changes(park, random.Random(5), 30)
    ResourceDayUsage.objects.all().delete()
    TenantDayTotal.objects.all().delete()
    call_command("usage_rebuild_daily")
    assert _tables() == _expected() and not UsageChange.objects.exists()
