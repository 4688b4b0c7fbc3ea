"""The waitlist re-plan after a cancellation keeps every rule of the published round: the
changeovers to and from confirmed line runs, and chains all or nothing (a step refused for good
keeps its partners off the plan)."""

from __future__ import annotations

import datetime as dt

import pytest

import scheduler
from booking.bookings.models import Booking, BookingStatus
from booking.rounds.outcomes import current_problem
from tests.rounds import round_fixtures
from tests.rounds.round_fixtures import ask, close_and_solve, publish

week_round = round_fixtures.week_round

pytestmark = pytest.mark.django_db


def _fresh(*bookings):
    return [Booking.objects.get(pk=b.pk) for b in bookings]


def test_a_gan_run_promoted_after_a_cancellation_waits_for_the_clean_after_a_held_sic_run(
    park, week_round, django_capture_on_commit_callbacks
):
    from booking.bookings.services import booking_cancel

    line = dict(resource=park.line, day=0, minutes=480)
    sic = ask(week_round, user=park.alice, tenant=park.acme, start=0, end=8, recipe="sic", **line)
    gan_a = ask(
        week_round, user=park.charlie, tenant=park.globex, start=10, end=24, recipe="gan", **line
    )
    gan_b = ask(
        week_round, user=park.alice, tenant=park.acme, start=10, end=24, recipe="gan", **line
    )
    rnd = close_and_solve(week_round, django_capture_on_commit_callbacks)
    publish(rnd, django_capture_on_commit_callbacks)
    sic, gan_a, gan_b = _fresh(sic, gan_a, gan_b)
    assert sic.status == BookingStatus.CONFIRMED
    granted = [b for b in (gan_a, gan_b) if b.status == BookingStatus.CONFIRMED]
    waiting = [b for b in (gan_a, gan_b) if b.status == BookingStatus.WAITLISTED]
    # Two GaN runs do not fit in 10:00-24:00: one is granted, after the 6 h clean.
    assert len(granted) == 1 and len(waiting) == 1
    with django_capture_on_commit_callbacks(execute=True):
        booking_cancel(user=granted[0].user, booking=granted[0])
    (promoted,) = _fresh(waiting[0])
    assert promoted.status == BookingStatus.CONFIRMED and promoted.reason_code == "promoted"
    # Held as maintenance, the SiC run would let the GaN run start at the minute it ends.
    assert promoted.start - sic.end >= dt.timedelta(hours=6)
    # The re-planned problem and plan are kept with the round and pass the validator.
    rnd.refresh_from_db()
    problem, plan = current_problem(rnd)
    assert scheduler.validate(problem, plan).ok
    assert plan.assignments[str(promoted.pk)].granted


def _chain_waiting_behind_a_rival(park, week_round, callbacks):
    """A published round where acme's line run and its XRD metrology step (a chain) wait
    behind globex's line run: acme already has line and XRD time on days 1 and 2, so globex
    wins the contended run. Returns (run, metrology, rival) as stored."""
    ask(week_round, user=park.alice, tenant=park.acme, resource=park.xrd, day=2, minutes=240)
    ask(
        week_round,
        user=park.alice,
        tenant=park.acme,
        resource=park.line,
        day=1,
        start=0,
        end=8,
        minutes=480,
        recipe="sic",
    )
    run = ask(
        week_round,
        user=park.alice,
        tenant=park.acme,
        resource=park.line,
        day=0,
        start=0,
        end=8,
        minutes=480,
        recipe="sic",
    )
    metrology = ask(
        week_round,
        user=park.alice,
        tenant=park.acme,
        resource=park.xrd,
        day=0,
        start=8,
        end=16,
        minutes=240,
        follows=run,
    )
    rival = ask(
        week_round,
        user=park.charlie,
        tenant=park.globex,
        resource=park.line,
        day=0,
        start=0,
        end=8,
        minutes=480,
        recipe="sic",
    )
    rnd = close_and_solve(week_round, callbacks)
    publish(rnd, callbacks)
    return _fresh(run, metrology, rival)


@pytest.mark.parametrize("refused", [True, False])
def test_a_line_run_whose_metrology_step_was_refused_for_good_is_not_promoted(
    park, week_round, django_capture_on_commit_callbacks, refused
):
    from booking.bookings.services import booking_cancel, booking_transition

    run, metrology, rival = _chain_waiting_behind_a_rival(
        park, week_round, django_capture_on_commit_callbacks
    )
    assert rival.status == BookingStatus.CONFIRMED
    assert {run.status, metrology.status} == {BookingStatus.WAITLISTED}
    if refused:
        booking_transition(booking=metrology, to_status=BookingStatus.REFUSED, note="no sample")
    with django_capture_on_commit_callbacks(execute=True):
        booking_cancel(user=park.charlie, booking=rival)
    run, metrology = _fresh(run, metrology)
    if refused:
        # Chains rebuilt from waitlisted requests alone would drop the link and promote the run.
        assert run.status == BookingStatus.WAITLISTED
        assert metrology.status == BookingStatus.REFUSED
    else:
        assert {run.status, metrology.status} == {BookingStatus.CONFIRMED}
        assert metrology.start >= run.end


def test_a_waiting_line_run_is_not_promoted_alone_once_its_metrology_step_is_withdrawn(
    park, week_round, django_capture_on_commit_callbacks
):
    from booking.bookings.services import booking_cancel

    run, metrology, rival = _chain_waiting_behind_a_rival(
        park, week_round, django_capture_on_commit_callbacks
    )
    assert {run.status, metrology.status} == {BookingStatus.WAITLISTED}
    booking_cancel(user=park.alice, booking=metrology)
    with django_capture_on_commit_callbacks(execute=True):
        booking_cancel(user=park.charlie, booking=rival)
    (run,) = _fresh(run)
    assert run.status == BookingStatus.WAITLISTED
