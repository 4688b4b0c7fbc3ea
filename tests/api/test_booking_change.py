"""Changing a booking's times (PATCH /bookings/{id}): the same rules as booking, the quota
counting only the difference, running bookings giving back their unused end, other tenants 404."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

from booking.bookings.models import Booking, BookingEvent, BookingStatus
from resources.models import MaintenanceWindow
from tests.api.conftest import assert_error, next_hour

pytestmark = pytest.mark.django_db


def patch(api, booking_id, data):
    return api.client.patch(
        f"/api/v1/bookings/{booking_id}",
        data,
        content_type="application/json",
        headers=api._headers(None),
    )


def book(api, start, hours=1, resource="confocal-1", units=None):
    payload = {
        "resource": resource,
        "title": "imaging",
        "start": start.isoformat(),
        "end": (start + dt.timedelta(hours=hours)).isoformat(),
    }
    if units:
        payload["units"] = units
    response = api.post("/bookings", payload)
    assert response.status_code == 201, response.content
    return response.json()["id"]


def _monday_ahead(hour=8):
    start = next_hour(days=7, hour=hour)
    return start + dt.timedelta(days=(7 - start.weekday()) % 7)


def test_move_a_booking(alice_api, mailoutbox):
    start = next_hour(days=2, hour=10)
    pk = book(alice_api, start)
    new = start + dt.timedelta(hours=3)
    response = patch(
        alice_api, pk, {"start": new.isoformat(), "end": (new + dt.timedelta(hours=2)).isoformat()}
    )
    assert response.status_code == 200, response.content
    booking = Booking.objects.get(pk=pk)
    assert (booking.start, booking.end) == (new, new + dt.timedelta(hours=2))
    assert BookingEvent.objects.filter(booking=booking, note__startswith="times").count() == 1


def test_move_into_maintenance_or_a_taken_slot_is_refused_and_nothing_changes(
    alice_api, charlie_api, park
):
    start = next_hour(days=2, hour=10)
    pk = book(alice_api, start)
    MaintenanceWindow.objects.create(
        resource=park.confocal,
        start=start + dt.timedelta(hours=2),
        end=start + dt.timedelta(hours=3),
    )
    later = start + dt.timedelta(hours=2)
    assert_error(
        patch(
            alice_api,
            pk,
            {"start": later.isoformat(), "end": (later + dt.timedelta(hours=1)).isoformat()},
        ),
        400,
        "maintenance",
    )
    other = start + dt.timedelta(hours=5)
    book(charlie_api, other)
    assert_error(
        patch(
            alice_api,
            pk,
            {"start": other.isoformat(), "end": (other + dt.timedelta(hours=1)).isoformat()},
        ),
        409,
        "slot_taken",
    )
    booking = Booking.objects.get(pk=pk)
    assert booking.start == start and booking.end == start + dt.timedelta(hours=1)


def test_the_quota_counts_only_the_difference(alice_api):
    # Weekly GPU quota 100 h: 4 GPUs × 20 h = 80 h and 4 × 4 h = 16 h booked, 4 h left.
    start = _monday_ahead(hour=0)
    first = book(alice_api, start, hours=20, resource="gpu01", units=4)
    book(alice_api, start + dt.timedelta(days=1), hours=4, resource="gpu01", units=4)
    # 21 h (84 h, +4) fits although 84 + 16 + the old 80 would not: only the difference counts.
    assert (
        patch(alice_api, first, {"end": (start + dt.timedelta(hours=21)).isoformat()}).status_code
        == 200
    )
    body = assert_error(
        patch(alice_api, first, {"end": (start + dt.timedelta(hours=22)).isoformat()}),
        400,
        "quota_exceeded",
    )
    assert "4" in body["message"]
    assert Booking.objects.get(pk=first).end == start + dt.timedelta(hours=21)


def test_a_running_booking_gives_back_its_unused_end(alice_api, park):
    now = timezone.now()
    start = timezone.localtime(now).replace(minute=0, second=0, microsecond=0)
    running = Booking.objects.create(
        tenant=park.acme,
        user=park.alice,
        resource=park.confocal,
        title="live",
        start=start,
        end=start + dt.timedelta(hours=3),
        status=BookingStatus.IN_USE,
    )
    new_end = start + dt.timedelta(hours=2)
    assert_error(
        patch(alice_api, running.pk, {"start": (start + dt.timedelta(hours=1)).isoformat()}),
        409,
        "already_started",
    )
    assert_error(
        patch(alice_api, running.pk, {"end": (start + dt.timedelta(hours=4)).isoformat()}),
        409,
        "running_extend",
    )
    assert_error(
        patch(alice_api, running.pk, {"end": (start - dt.timedelta(hours=1)).isoformat()}), 400
    )
    response = patch(alice_api, running.pk, {"end": new_end.isoformat()})
    assert response.status_code == 200, response.content
    assert Booking.objects.get(pk=running.pk).end == new_end


def test_a_round_booking_is_fixed_after_the_cut_off(alice_api, park):
    from booking.rounds.models import AllocationRound

    now = timezone.now()
    closed = AllocationRound.objects.create(
        name="Week",
        period_start=now + dt.timedelta(days=1),
        period_end=now + dt.timedelta(days=8),
        cutoff=now - dt.timedelta(hours=1),
    )
    start = next_hour(days=2, hour=10)
    placed = Booking.objects.create(
        tenant=park.acme,
        user=park.alice,
        resource=park.confocal,
        title="planned",
        round=closed,
        start=start,
        end=start + dt.timedelta(hours=1),
        status=BookingStatus.CONFIRMED,
    )
    assert_error(
        patch(alice_api, placed.pk, {"end": (start + dt.timedelta(hours=2)).isoformat()}),
        409,
        "round_cutoff_passed",
    )


def test_cancelled_booking_and_empty_change_are_refused(alice_api):
    pk = book(alice_api, next_hour(days=2, hour=10))
    assert_error(patch(alice_api, pk, {}), 422, "nothing_to_change")
    alice_api.post(f"/bookings/{pk}/cancel")
    assert_error(
        patch(alice_api, pk, {"end": next_hour(days=2, hour=12).isoformat()}), 409, "not_changeable"
    )


def test_other_tenants_and_colleagues(alice_api, bob_api, charlie_api, park):
    start = next_hour(days=2, hour=10)
    pk = book(alice_api, start)
    end = (start + dt.timedelta(hours=2)).isoformat()
    assert_error(patch(charlie_api, pk, {"end": end}), 404, "not_found")
    assert Booking.objects.get(pk=pk).end == start + dt.timedelta(hours=1)
    # bob manages Acme: he may change alice's booking (her training and rules apply).
    assert patch(bob_api, pk, {"end": end}).status_code == 200
