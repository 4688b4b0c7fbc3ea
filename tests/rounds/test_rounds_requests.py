"""Round requests: what is accepted, what is refused with which code, and who sees them."""

from __future__ import annotations

import datetime as dt

import pytest

from booking.bookings.models import Booking, BookingEvent, BookingStatus
from booking.errors import NotFound, ParkError
from booking.rounds.lifecycle import round_close
from booking.rounds.models import AllocationRound
from booking.rounds.requests import round_request_create
from booking.rounds.selectors import round_request_get, round_requests_for_user
from tests.rounds import round_fixtures
from tests.rounds.round_fixtures import ask, at

week_round = round_fixtures.week_round

pytestmark = pytest.mark.django_db


def test_a_valid_request_is_stored_as_requested_with_its_event(park, week_round):
    booking = ask(week_round, user=park.alice, tenant=park.acme, resource=park.line, recipe="sic")
    assert booking.status == BookingStatus.REQUESTED
    assert booking.round == week_round and booking.recipe.code == "sic"
    event = BookingEvent.objects.get(booking=booking)
    assert (event.from_status, event.to_status, event.actor) == ("", "requested", park.alice)


def test_the_open_round_is_found_from_the_window(park, week_round):
    booking = round_request_create(
        user=park.alice,
        tenant=park.acme,
        resource=park.xrd,
        earliest_start=at(week_round, 1, 8),
        latest_end=at(week_round, 1, 20),
        duration_minutes=120,
        title="no round given",
    )
    assert booking.round == week_round


def _refused(code, **kwargs):
    before = (Booking.objects.count(), BookingEvent.objects.count())
    with pytest.raises(ParkError) as caught:
        round_request_create(**kwargs)
    assert caught.value.code == code, caught.value.message
    assert caught.value.field and caught.value.message
    assert (Booking.objects.count(), BookingEvent.objects.count()) == before
    return caught.value


def _base(park, rnd, **changes):
    kwargs = dict(
        user=park.alice,
        tenant=park.acme,
        resource=park.xrd,
        allocation_round=rnd,
        earliest_start=at(rnd, 0, 8),
        latest_end=at(rnd, 0, 20),
        duration_minutes=240,
        title="a run",
    )
    kwargs.update(changes)
    return kwargs


def test_a_window_shorter_than_the_duration_is_refused(park, week_round):
    _refused(
        "window_shorter_than_duration",
        **_base(park, week_round, latest_end=at(week_round, 0, 10)),
    )


def test_a_window_outside_the_round_period_is_refused(park, week_round):
    _refused(
        "window_outside_round",
        **_base(park, week_round, latest_end=at(week_round, 8, 10)),
    )


def test_a_window_ending_before_it_starts_is_refused(park, week_round):
    _refused(
        "window_ends_before_start",
        **_base(
            park, week_round, earliest_start=at(week_round, 0, 12), latest_end=at(week_round, 0, 9)
        ),
    )


def test_a_request_after_the_cutoff_is_refused(park, week_round):
    later = week_round.cutoff + dt.timedelta(minutes=1)
    _refused("round_cutoff_passed", **_base(park, week_round, now=later))


def test_a_request_to_a_closed_round_is_refused(park, week_round):
    round_close(allocation_round=week_round)
    error = _refused("round_not_open", **_base(park, week_round))
    assert error.status == 409


def test_an_unknown_recipe_is_refused(park, week_round):
    _refused("recipe_unknown", **_base(park, week_round, resource=park.line, recipe="diamond"))


def test_a_line_run_without_a_recipe_is_refused(park, week_round):
    _refused("recipe_required", **_base(park, week_round, resource=park.line))


def test_a_recipe_on_an_instrument_is_refused(park, week_round):
    _refused("recipe_not_allowed", **_base(park, week_round, recipe="sic"))


def test_an_instant_booked_resource_is_refused(park, week_round):
    _refused("not_round_booked", **_base(park, week_round, resource=park.confocal))


def test_a_request_for_another_tenant_is_refused(park, week_round):
    error = _refused("not_member", **_base(park, week_round, tenant=park.globex))
    assert error.status == 403


def test_a_request_without_valid_training_is_refused(park, week_round):
    park.xrd.required_training = park.microscopy
    park.xrd.save()
    error = _refused("no_valid_training", **_base(park, week_round, user=park.bob))
    assert error.status == 403


def test_a_duration_outside_the_resource_rules_is_refused(park, week_round):
    _refused(
        "duration_out_of_range",
        **_base(park, week_round, duration_minutes=10, latest_end=at(week_round, 0, 20)),
    )


def test_a_line_run_shorter_than_the_minimum_run_is_refused(park, week_round):
    _refused(
        "duration_out_of_range",
        **_base(park, week_round, resource=park.line, recipe="sic", duration_minutes=120),
    )


def test_neither_resource_nor_pool_is_refused(park, week_round):
    _refused("resource_or_pool", **_base(park, week_round, resource=None))


def test_an_empty_title_is_refused(park, week_round):
    _refused("title_required", **_base(park, week_round, title="  "))


def test_follows_must_be_a_request_of_the_same_tenant_and_round(park, week_round):
    theirs = ask(week_round, user=park.charlie, tenant=park.globex, resource=park.xrd)
    _refused("bad_follows", **_base(park, week_round, follows=theirs))
    _refused("bad_gap", **_base(park, week_round, max_gap_minutes=60))


def test_a_chain_is_planned_all_together(park, week_round, django_capture_on_commit_callbacks):
    from tests.rounds.round_fixtures import close_and_solve, publish

    run = ask(
        week_round,
        user=park.alice,
        tenant=park.acme,
        resource=park.line,
        recipe="sic",
        start=0,
        end=24,
        minutes=480,
    )
    check = ask(
        week_round,
        user=park.alice,
        tenant=park.acme,
        resource=park.xrd,
        start=0,
        end=24,
        minutes=60,
        follows=run,
        max_gap_minutes=240,
    )
    rnd = close_and_solve(week_round, django_capture_on_commit_callbacks)
    publish(rnd, django_capture_on_commit_callbacks)
    run.refresh_from_db()
    check.refresh_from_db()
    assert run.status == check.status == BookingStatus.CONFIRMED
    assert run.end <= check.start <= run.end + dt.timedelta(minutes=240)


def test_charlie_cannot_see_alices_request(park, week_round):
    mine = ask(week_round, user=park.alice, tenant=park.acme, resource=park.xrd)
    with pytest.raises(NotFound):
        round_request_get(user=park.charlie, pk=mine.pk)
    assert list(round_requests_for_user(user=park.charlie)) == []
    assert round_request_get(user=park.alice, pk=mine.pk) == mine
    assert round_request_get(user=park.bob, pk=mine.pk) == mine  # bob manages Acme


def test_closing_after_the_cutoff_happens_by_itself(park, week_round):
    from booking.rounds.lifecycle import rounds_close_due

    assert rounds_close_due(now=week_round.cutoff - dt.timedelta(seconds=1)) == 0
    assert rounds_close_due(now=week_round.cutoff) == 1
    week_round.refresh_from_db()
    assert week_round.status == AllocationRound.Status.CLOSED
