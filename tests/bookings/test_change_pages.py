"""The booking page's change form: new times for a booking, a new window for a round request
(before the cut-off), errors named by field, other tenants 404."""

from __future__ import annotations

import datetime as dt

import pytest

from booking.bookings.models import Booking
from tests.bookings.test_views_booking import at, book, local_input
from tests.rounds import round_fixtures
from tests.rounds.round_fixtures import ask

week_round = round_fixtures.week_round
round_at = round_fixtures.at

pytestmark = pytest.mark.django_db


def test_a_member_moves_a_booking_from_its_page(client, park):
    booking = book(park, start=at(2, 10))
    client.force_login(park.alice)
    page = client.get(f"/bookings/{booking.pk}/")
    assert b'name="start"' in page.content
    response = client.post(
        f"/bookings/{booking.pk}/change",
        {"start": local_input(at(2, 13)), "end": local_input(at(2, 14))},
        follow=True,
    )
    assert response.status_code == 200
    assert Booking.objects.get(pk=booking.pk).start == at(2, 13)


def test_a_member_gives_a_round_request_a_new_window_from_its_page(client, park, week_round):
    request = ask(week_round, user=park.alice, tenant=park.acme, resource=park.xrd, day=1)
    client.force_login(park.alice)
    page = client.get(f"/bookings/{request.pk}/")
    assert b'name="earliest_start"' in page.content and b'name="duration_hours"' in page.content
    new_start, new_end = round_at(week_round, 2, 9), round_at(week_round, 2, 15)
    client.post(
        f"/bookings/{request.pk}/change",
        {
            "earliest_start": local_input(new_start),
            "latest_end": local_input(new_end),
            "duration_hours": "1.5",
        },
    )
    fresh = Booking.objects.get(pk=request.pk)
    assert (fresh.earliest_start, fresh.latest_end, fresh.duration_minutes) == (
        new_start,
        new_end,
        90,
    )
    # A window shorter than the duration is refused, named by its field; nothing changes.
    response = client.post(
        f"/bookings/{request.pk}/change",
        {
            "earliest_start": local_input(new_start),
            "latest_end": local_input(new_start + dt.timedelta(hours=1)),
            "duration_hours": "2",
        },
        follow=True,
    )
    assert "Latest end" in response.content.decode()
    assert Booking.objects.get(pk=request.pk).latest_end == new_end


def test_another_tenant_cannot_change_a_request_from_the_page(client, park, week_round):
    request = ask(week_round, user=park.alice, tenant=park.acme, resource=park.xrd, day=1)
    client.force_login(park.charlie)
    response = client.post(
        f"/bookings/{request.pk}/change",
        {"earliest_start": "x", "latest_end": "y", "duration_hours": "1"},
    )
    assert response.status_code == 404
    assert client.get(f"/bookings/{request.pk}/").status_code == 404
