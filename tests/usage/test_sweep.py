"""The periodic sweep with time frozen: no-shows released, bookings still in use closed at
their end, GPU bookings completed from their jobs, freed time promoted from the waitlist."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
import time_machine
from django.core import mail

from booking.bookings.models import BookingEvent, BookingStatus
from booking.bookings.rules import booking_check
from booking.compute.models import ComputeJob, JobState
from booking.usage.models import BookingUsage, UsagePolicy, UserLanguage
from booking.usage.services import booking_check_in
from booking.usage.tasks import usage_sweep_task
from tests.rounds import round_fixtures
from tests.rounds.round_fixtures import ask, close_and_solve, publish
from tests.usage.conftest import book, local

week_round = round_fixtures.week_round

pytestmark = pytest.mark.django_db

MIN = dt.timedelta(minutes=1)


def sweep_at(moment: dt.datetime, capture):
    """Run the periodic task at ``moment`` (frozen), with its follow-up tasks."""
    with time_machine.travel(moment, tick=False), capture(execute=True):
        usage_sweep_task()


def test_a_booking_not_checked_in_is_released_when_its_window_closes(
    park, django_capture_on_commit_callbacks
):
    b = book(park, start=local(2, 10), minutes=120)
    sweep_at(b.start + 15 * MIN, django_capture_on_commit_callbacks)
    b.refresh_from_db()
    assert b.status == BookingStatus.CONFIRMED  # the last instant of the window

    sweep_at(b.start + 15 * MIN + dt.timedelta(seconds=1), django_capture_on_commit_callbacks)
    b.refresh_from_db()
    assert b.status == BookingStatus.NO_SHOW
    event = BookingEvent.objects.get(booking=b, to_status="no_show")
    assert event.actor is None and "no-show" in event.note
    usage = BookingUsage.objects.get(booking=b)
    assert usage.no_show and usage.used_hours == 0
    assert usage.charged_hours == Decimal("2")  # the default policy charges booked hours
    # The slot is free again.
    errors = booking_check(
        user=park.charlie,
        tenant=park.globex,
        resource=park.confocal,
        start=local(2, 10, 30),
        end=local(2, 12),
        now=local(2, 10, 20),
    )
    assert errors == []


def test_member_and_manager_are_told_each_in_their_language(
    park, django_capture_on_commit_callbacks
):
    UserLanguage.objects.create(user=park.bob, language="zh-hant")
    b = book(park, start=local(2, 10))
    mail.outbox.clear()
    sweep_at(b.start + 16 * MIN, django_capture_on_commit_callbacks)
    by_person = {m.to[0]: m for m in mail.outbox}
    assert set(by_person) == {"alice@acme.example", "bob@acme.example"}
    assert by_person["alice@acme.example"].subject.startswith("No-show")
    assert "Your booking" in by_person["alice@acme.example"].body
    assert "未報到" in by_person["bob@acme.example"].subject
    assert "Charlie" not in by_person["bob@acme.example"].body


def test_a_no_show_is_free_of_charge_when_the_policy_says_so(
    park, django_capture_on_commit_callbacks
):
    UsagePolicy.objects.create(pk=1, no_show_charged=False, notify_manager=False)
    b = book(park, start=local(2, 10))
    mail.outbox.clear()
    sweep_at(b.start + 16 * MIN, django_capture_on_commit_callbacks)
    assert BookingUsage.objects.get(booking=b).charged_hours == 0
    assert [m.to[0] for m in mail.outbox] == ["alice@acme.example"]


def test_a_booking_still_checked_in_at_its_end_is_closed_at_its_end_and_flagged(
    park, django_capture_on_commit_callbacks
):
    b = book(park, start=local(2, 10), minutes=90)
    booking_check_in(user=park.alice, booking=b, now=b.start + 10 * MIN)
    sweep_at(b.end - MIN, django_capture_on_commit_callbacks)
    b.refresh_from_db()
    assert b.status == BookingStatus.IN_USE
    sweep_at(b.end + 3 * MIN, django_capture_on_commit_callbacks)
    b.refresh_from_db()
    assert b.status == BookingStatus.COMPLETED
    assert b.end == local(2, 11, 30)
    usage = BookingUsage.objects.get(booking=b)
    assert usage.closed_at_end
    assert usage.checked_out_at == b.end
    assert usage.used_hours == Decimal("1.3333")


def test_an_ended_gpu_booking_is_completed_with_the_gpu_hours_of_its_jobs(
    park, django_capture_on_commit_callbacks
):
    b = book(park, start=local(2, 10), minutes=240, resource=park.gpu, units=2)
    for hours, state in (("1.5", JobState.COMPLETED), ("2.25", JobState.FAILED)):
        ComputeJob.objects.create(
            tenant=park.acme,
            user=park.alice,
            booking=b,
            name="train",
            script="#!/bin/sh\n",
            partition="gpu",
            gpus=2,
            time_limit_minutes=60,
            state=state,
            gpu_hours=Decimal(hours),
        )
    sweep_at(b.start + 60 * MIN, django_capture_on_commit_callbacks)
    b.refresh_from_db()
    assert b.status == BookingStatus.CONFIRMED  # no check-in needed, not ended yet
    sweep_at(b.end, django_capture_on_commit_callbacks)
    b.refresh_from_db()
    assert b.status == BookingStatus.COMPLETED
    usage = BookingUsage.objects.get(booking=b)
    assert usage.source == "jobs"
    assert usage.used_hours == Decimal("3.75") == usage.charged_hours


def test_time_freed_by_a_no_show_is_promoted_from_the_waitlist(
    park, week_round, django_capture_on_commit_callbacks
):
    # XRD is open 08–20 on day 0: three 4 h requests fill it; a 1 h request waits.
    for _ in range(2):
        ask(week_round, user=park.alice, tenant=park.acme, resource=park.xrd)
    for _ in range(2):
        ask(week_round, user=park.charlie, tenant=park.globex, resource=park.xrd)
    short = ask(week_round, user=park.charlie, tenant=park.globex, resource=park.xrd, minutes=60)
    rnd = close_and_solve(week_round, django_capture_on_commit_callbacks)
    publish(rnd, django_capture_on_commit_callbacks)
    short.refresh_from_db()
    assert short.status == BookingStatus.WAITLISTED
    first = rnd.requests.filter(status=BookingStatus.CONFIRMED).order_by("start").first()
    assert first.end - first.start == dt.timedelta(hours=4)

    mail.outbox.clear()
    sweep_at(first.start + 16 * MIN, django_capture_on_commit_callbacks)
    first.refresh_from_db()
    short.refresh_from_db()
    assert first.status == BookingStatus.NO_SHOW
    assert short.status == BookingStatus.CONFIRMED
    assert short.reason_code == "promoted"
    assert first.start + 16 * MIN <= short.start and short.end <= first.end
    assert "charlie@globex.example" in {m.to[0] for m in mail.outbox}


def test_the_batch_transition_skips_bookings_changed_meanwhile_and_keeps_the_rules(park):
    from django.db import transaction

    from booking.bookings.services import booking_cancel, bookings_transition_many
    from booking.errors import ParkError

    a = book(park, start=local(2, 10))
    b = book(park, start=local(2, 12))
    booking_cancel(user=park.alice, booking=b, now=b.start - MIN)
    with transaction.atomic():
        changed = bookings_transition_many(
            booking_ids=[a.pk, b.pk],
            from_status=BookingStatus.CONFIRMED,
            to_status=BookingStatus.NO_SHOW,
            note="test",
        )
    assert changed == [a.pk]
    assert BookingEvent.objects.filter(to_status="no_show").count() == 1
    b.refresh_from_db()
    assert b.status == BookingStatus.CANCELLED
    with pytest.raises(ParkError) as info, transaction.atomic():
        bookings_transition_many(
            booking_ids=[a.pk], from_status=BookingStatus.NO_SHOW, to_status="completed"
        )
    assert info.value.code == "transition_not_allowed"
