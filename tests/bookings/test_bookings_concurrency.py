"""No overbooking, ever: many people booking at once on PostgreSQL (row locks + exclusion constraint)."""

from __future__ import annotations

import datetime as dt
import threading

import pytest
from django.db import IntegrityError, connection, connections, transaction
from django.utils import timezone

from booking.bookings.models import Booking, BookingStatus
from booking.bookings.services import booking_create_instant
from booking.errors import ParkError
from booking.tenancy.services import quota_set
from resources.services import lab_instrument_create

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

THREADS = 50


def next_monday(hour: int) -> dt.datetime:
    today = timezone.localdate()
    monday = today + dt.timedelta(days=7 - today.weekday())
    return dt.datetime.combine(monday, dt.time(hour), tzinfo=timezone.get_current_timezone())


def run_at_once(attempts) -> list:
    """Run every callable in its own thread, released together; return what each returned or raised."""
    barrier = threading.Barrier(len(attempts))
    results = [None] * len(attempts)

    def worker(i, attempt):
        try:
            barrier.wait()
            results[i] = attempt()
        except ParkError as exc:
            results[i] = exc
        except Exception as exc:  # noqa: BLE001 - a leaked exception is what the test looks for
            results[i] = ("leaked", repr(exc))
        finally:
            connections.close_all()

    threads = [threading.Thread(target=worker, args=(i, a)) for i, a in enumerate(attempts)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    return results


def test_fifty_people_booking_one_slot_exactly_one_wins(park):
    start = next_monday(10)
    users = [(park.alice, park.acme), (park.charlie, park.globex)]

    def attempt(i):
        user, tenant = users[i % 2]
        return lambda: booking_create_instant(
            user=user,
            tenant=tenant,
            resource=park.confocal,
            start=start,
            end=start + dt.timedelta(hours=1),
            title=f"run {i}",
        )

    results = run_at_once([attempt(i) for i in range(THREADS)])
    leaked = [r for r in results if isinstance(r, tuple)]
    assert leaked == []
    winners = [r for r in results if isinstance(r, Booking)]
    losers = [r for r in results if isinstance(r, ParkError)]
    assert len(winners) == 1
    assert len(losers) == THREADS - 1
    assert {e.code for e in losers} == {"slot_taken"}
    assert all(e.status == 409 for e in losers)
    assert (
        Booking.objects.filter(resource=park.confocal, status=BookingStatus.CONFIRMED).count() == 1
    )


@pytest.mark.parametrize("units, winners_expected", [(1, 4), (2, 2), (3, 1)])
def test_a_gpu_node_with_k_gpus_takes_exactly_k_gpus_worth(park, units, winners_expected):
    start = next_monday(9)
    users = [(park.alice, park.acme), (park.charlie, park.globex), (park.bob, park.acme)]

    def attempt(i):
        user, tenant = users[i % 3]
        return lambda: booking_create_instant(
            user=user,
            tenant=tenant,
            resource=park.gpu,
            units=units,
            start=start,
            end=start + dt.timedelta(hours=2),
            title=f"train {i}",
        )

    results = run_at_once([attempt(i) for i in range(THREADS)])
    assert [r for r in results if isinstance(r, tuple)] == []
    winners = [r for r in results if isinstance(r, Booking)]
    assert len(winners) == winners_expected
    assert {r.code for r in results if isinstance(r, ParkError)} == {"slot_taken"}
    held = sum(b.units for b in Booking.objects.filter(resource=park.gpu, status="confirmed"))
    assert held == units * winners_expected <= park.gpu.capacity


def test_concurrent_bookings_never_exceed_the_quota(park):
    # Five instruments so the resource lock does not serialise anything: only the tenant lock
    # keeps Acme's quota of 3 instrument-hours from being overspent.
    quota_set(tenant=park.acme, resource_class="instrument", period="week", hours=3)
    room = park.confocal.location
    instruments = [
        lab_instrument_create(
            name=f"Scope {i}", slug=f"scope-{i}", location=room, instrument_type="scope"
        )
        for i in range(5)
    ]
    start = next_monday(8)

    def attempt(i):
        slot = start + dt.timedelta(hours=i // 5)
        return lambda: booking_create_instant(
            user=park.alice if i % 2 else park.bob,
            tenant=park.acme,
            resource=instruments[i % 5],
            start=slot,
            end=slot + dt.timedelta(hours=1),
            title=f"scan {i}",
        )

    results = run_at_once([attempt(i) for i in range(THREADS)])
    assert [r for r in results if isinstance(r, tuple)] == []
    winners = [r for r in results if isinstance(r, Booking)]
    assert len(winners) == 3
    assert {r.code for r in results if isinstance(r, ParkError)} == {"quota_exceeded"}


def test_the_database_itself_refuses_overlapping_confirmed_bookings(park):
    assert connection.vendor == "postgresql"
    start = next_monday(10)
    common = dict(resource=park.confocal, status="confirmed", exclusive=True, tenant=park.acme)
    Booking.objects.create(
        user=park.alice, title="a", start=start, end=start + dt.timedelta(hours=2), **common
    )
    with pytest.raises(IntegrityError), transaction.atomic():
        Booking.objects.create(
            user=park.bob,
            title="b",
            start=start + dt.timedelta(hours=1),
            end=start + dt.timedelta(hours=3),
            **common,
        )


def test_a_writer_that_slips_past_the_checks_still_gets_slot_taken(park, monkeypatch):
    # The exclusion constraint is the last line of defence; its refusal reads as "slot taken".
    import booking.bookings.services as bookings

    start = next_monday(10)
    end = start + dt.timedelta(hours=1)
    booking_create_instant(
        user=park.alice, tenant=park.acme, resource=park.confocal, start=start, end=end, title="a"
    )
    monkeypatch.setattr(bookings, "booking_check", lambda **kw: [])
    with pytest.raises(ParkError) as info:
        booking_create_instant(
            user=park.charlie,
            tenant=park.globex,
            resource=park.confocal,
            start=start,
            end=end,
            title="b",
        )
    assert info.value.code == "slot_taken" and info.value.status == 409
    assert Booking.objects.filter(resource=park.confocal).count() == 1
