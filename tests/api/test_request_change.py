"""Changing a round request (PATCH /bookings/{id} with a window or a duration): the same rules
as sending it, before the round's cut-off only, nothing written on refusal, other tenants 404."""

from __future__ import annotations

import datetime as dt

import pytest

from booking.bookings.models import Booking, BookingEvent
from booking.rounds.models import AllocationRound
from tests.api.conftest import assert_error
from tests.api.test_booking_change import patch
from tests.rounds import round_fixtures
from tests.rounds.round_fixtures import ask, at

week_round = round_fixtures.week_round

pytestmark = pytest.mark.django_db


def _window(booking):
    fresh = Booking.objects.get(pk=booking.pk)
    return fresh.earliest_start, fresh.latest_end, fresh.duration_minutes


def test_a_request_gets_a_new_window_and_duration_before_the_cut_off(park, week_round, alice_api):
    request = ask(week_round, user=park.alice, tenant=park.acme, resource=park.xrd, day=1)
    new_start, new_end = at(week_round, 2, 9), at(week_round, 2, 17)
    response = patch(
        alice_api,
        request.pk,
        {
            "earliest_start": new_start.isoformat(),
            "latest_end": new_end.isoformat(),
            "duration_minutes": 120,
        },
    )
    assert response.status_code == 200, response.content
    assert response.json()["status"] == "requested"
    assert _window(request) == (new_start, new_end, 120)
    assert (
        BookingEvent.objects.filter(booking_id=request.pk, note__startswith="window").count() == 1
    )
    # Only the duration: the window stays.
    assert patch(alice_api, request.pk, {"duration_minutes": 180}).status_code == 200
    assert _window(request) == (new_start, new_end, 180)


@pytest.mark.parametrize(
    ("change", "status", "code", "field"),
    [
        ({"duration_minutes": 24 * 60}, 400, "window_shorter_than_duration", "latest_end"),
        ({"latest_end": "OUTSIDE"}, 400, "window_outside_round", "earliest_start"),
        ({"start": "2031-01-01T10:00:00+08:00"}, 422, "request_has_window", "start"),
        ({}, 422, "nothing_to_change", "earliest_start"),
    ],
)
def test_a_change_breaking_a_rule_is_refused_and_changes_nothing(
    park, week_round, alice_api, change, status, code, field
):
    request = ask(week_round, user=park.alice, tenant=park.acme, resource=park.xrd, day=1)
    before = _window(request)
    if change.get("latest_end") == "OUTSIDE":
        change = {"latest_end": (week_round.period_end + dt.timedelta(days=2)).isoformat()}
    response = patch(alice_api, request.pk, change)
    assert_error(response, status, code)
    assert response.json()["field"] == field
    assert _window(request) == before
    assert not BookingEvent.objects.filter(booking_id=request.pk, note__startswith="window")


def test_after_the_cut_off_a_request_is_fixed(park, week_round, alice_api):
    request = ask(week_round, user=park.alice, tenant=park.acme, resource=park.xrd, day=1)
    before = _window(request)
    AllocationRound.objects.filter(pk=week_round.pk).update(
        cutoff=week_round.period_start - dt.timedelta(days=3)
    )
    response = patch(alice_api, request.pk, {"duration_minutes": 120})
    assert_error(response, 409, "round_cutoff_passed", "round")
    assert _window(request) == before


def test_a_booking_with_times_is_not_given_a_window(park, week_round, alice_api):
    from tests.api.conftest import next_hour
    from tests.api.test_booking_change import book

    pk = book(alice_api, next_hour(days=2, hour=10))
    response = patch(alice_api, pk, {"duration_minutes": 120})
    assert_error(response, 422, "not_a_request", "duration_minutes")


def test_another_tenant_cannot_change_a_request(park, week_round, charlie_api):
    request = ask(week_round, user=park.alice, tenant=park.acme, resource=park.xrd, day=1)
    before = _window(request)
    response = patch(charlie_api, request.pk, {"duration_minutes": 120})
    assert_error(response, 404)
    assert _window(request) == before
