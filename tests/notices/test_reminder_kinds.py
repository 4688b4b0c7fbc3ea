"""Each kind of reminder fires at its moment, not before, once, and only to whom it concerns
(time frozen)."""

from __future__ import annotations

import datetime as dt

import pytest
from django.core import mail

from booking.bookings.models import Booking, BookingStatus
from booking.notices.models import Notice, NoticeKind, NoticeStatus
from booking.rounds.models import AllocationRound
from resources.models import TrainingRecord
from tests.notices.conftest import DAY, HOUR, MIN, MONDAY, book, prefer, tick

pytestmark = pytest.mark.django_db


def _mails_to(user) -> list:
    return [m for m in mail.outbox if user.email in m.to]


# ---- a booking's start ---------------------------------------------------------------------


def test_a_booking_reminder_comes_at_the_default_lead_time_and_not_before(park, clock):
    booking = book(park, start=MONDAY + 2 * HOUR, title="Live-cell imaging")
    tick(MONDAY)
    assert Notice.objects.count() == 0 and mail.outbox == []
    clock.move_to(MONDAY + 59 * MIN)  # 61 minutes before the start: still too early
    tick(MONDAY + 59 * MIN)
    assert mail.outbox == []
    tick(MONDAY + HOUR)  # 60 minutes before
    [message] = mail.outbox
    assert message.to == [park.alice.email]
    assert "Live-cell imaging" in message.subject and "07/12/2026 11:00" in message.subject
    assert "Confocal 1" in message.body
    notice = Notice.objects.get()
    assert (notice.kind, notice.subject_id, notice.status) == (
        NoticeKind.BOOKING_START,
        booking.pk,
        NoticeStatus.SENT,
    )


def test_a_second_tick_sends_no_second_booking_reminder(park, clock):
    book(park, start=MONDAY + 30 * MIN)
    tick(MONDAY)
    tick(MONDAY)
    tick(MONDAY + 5 * MIN)
    assert len(mail.outbox) == 1
    assert Notice.objects.count() == 1


def test_a_user_chooses_a_longer_lead_time(park, clock):
    prefer(park.alice, lead_minutes=180)
    book(park, start=MONDAY + 3 * HOUR)
    book(park, start=MONDAY + 4 * HOUR, title="Too far")
    tick(MONDAY)
    [message] = mail.outbox
    assert "Too far" not in message.subject


def test_an_opted_out_user_gets_no_booking_reminder_but_keeps_the_other_kinds(park, clock):
    prefer(park.alice, booking_start=False)
    book(park, start=MONDAY + 30 * MIN)
    TrainingRecord.objects.filter(user=park.alice).delete()
    _expiring(park.alice, park.microscopy, days=7)
    tick(MONDAY)
    assert [n.kind for n in Notice.objects.all()] == [NoticeKind.TRAINING_EXPIRY]


def test_a_cancelled_or_started_booking_gets_no_reminder(park, clock):
    from booking.bookings.services import booking_cancel

    cancelled = book(park, start=MONDAY + 30 * MIN, title="Cancelled")
    booking_cancel(user=park.alice, booking=cancelled, now=MONDAY - HOUR)
    Booking.objects.create(
        tenant=park.acme,
        user=park.alice,
        resource=park.confocal,
        title="Started",
        start=MONDAY - 10 * MIN,
        end=MONDAY + HOUR,
        status=BookingStatus.CONFIRMED,
    )
    tick(MONDAY)
    assert mail.outbox == [] and Notice.objects.count() == 0


def test_a_booking_reminder_goes_to_its_owner_only(park, clock):
    book(park, start=MONDAY + 30 * MIN, title="Acme imaging")
    prefer(park.charlie, lead_minutes=120)
    book(
        park, start=MONDAY + 90 * MIN, user=park.charlie, tenant=park.globex, title="Globex imaging"
    )
    tick(MONDAY)
    assert _mails_to(park.bob) == []
    [to_alice] = _mails_to(park.alice)
    [to_charlie] = _mails_to(park.charlie)
    assert "Acme imaging" in to_alice.subject and "Globex" not in to_alice.body
    assert "Globex imaging" in to_charlie.subject and "Acme" not in to_charlie.body


# ---- trainings -----------------------------------------------------------------------------


def _expiring(user, training, *, days: int) -> TrainingRecord:
    expires = MONDAY.date() + dt.timedelta(days=days)
    return TrainingRecord.objects.create(
        user=user,
        training=training,
        granted_on=expires - dt.timedelta(days=365),
        expires_on=expires,
    )


def test_a_training_is_announced_30_then_7_days_before_it_expires(park, clock):
    TrainingRecord.objects.filter(user=park.alice).delete()
    record = _expiring(park.alice, park.microscopy, days=31)
    tick(MONDAY)
    assert mail.outbox == []
    for day in range(1, 25):  # 30 days before, then daily ticks up to 7 days before
        clock.move_to(MONDAY + day * DAY)
        tick(MONDAY + day * DAY)
    thresholds = list(
        Notice.objects.filter(subject_id=record.pk)
        .order_by("pk")
        .values_list("threshold", flat=True)
    )
    assert thresholds == ["30d", "7d"]
    assert len(mail.outbox) == 2
    assert "07/01/2027" in mail.outbox[0].body
    assert "in 30 days" in mail.outbox[0].body and "in 7 days" in mail.outbox[1].body


def test_a_training_found_late_gets_only_the_nearest_notice(park, clock):
    TrainingRecord.objects.filter(user=park.alice).delete()
    _expiring(park.alice, park.microscopy, days=5)
    tick(MONDAY)
    assert list(Notice.objects.values_list("threshold", flat=True)) == ["7d"]


def test_a_renewed_training_is_not_announced(park, clock):
    _expiring(park.alice, park.microscopy, days=7)
    # alice's record from the fixture runs for another year: she has renewed already.
    assert TrainingRecord.objects.filter(user=park.alice).count() == 2
    tick(MONDAY)
    assert Notice.objects.filter(user=park.alice).count() == 0


# ---- quotas --------------------------------------------------------------------------------


def _use_instrument_hours(park, hours: list[tuple[int, int, int]]):
    """Bookings of alice on the confocal: (day after Monday, hour, minutes)."""
    for day, hour, minutes in hours:
        start = MONDAY.replace(hour=hour) + day * DAY
        book(park, start=start, minutes=minutes, title=f"quota {day} {hour}")


def test_the_managers_hear_at_75_and_100_percent_once_per_period(park, clock):
    # Acme may use 20 instrument-hours a week.
    _use_instrument_hours(park, [(1, 8, 240), (1, 12, 240), (1, 16, 180)])  # 11 h: 55%
    tick(MONDAY)
    assert Notice.objects.filter(kind=NoticeKind.QUOTA).count() == 0
    _use_instrument_hours(park, [(2, 8, 240)])  # 15 h: 75%
    tick(MONDAY)
    tick(MONDAY + 15 * MIN)
    [message] = mail.outbox
    assert message.to == [park.bob.email]  # the manager; alice (a member) is not told
    assert "Acme Robotics" in message.subject and "75%" in message.subject
    assert "15 of 20 instrument-hours" in message.body
    _use_instrument_hours(park, [(2, 12, 240), (2, 16, 60)])  # 20 h: 100%
    tick(MONDAY + 30 * MIN)
    tick(MONDAY + 45 * MIN)
    assert [m.subject.split(" ")[2] for m in mail.outbox] == ["75%", "100%"]
    assert _mails_to(park.charlie) == [] and _mails_to(park.alice) == []
    thresholds = set(Notice.objects.values_list("threshold", flat=True))
    assert thresholds == {"75%@2026-12-07", "100%@2026-12-07"}


def test_a_new_quota_period_is_announced_again(park, clock):
    _use_instrument_hours(park, [(1, 8, 240), (1, 12, 240), (1, 16, 240), (2, 8, 240)])  # 16 h
    tick(MONDAY)
    next_monday = MONDAY + 7 * DAY
    clock.move_to(next_monday - HOUR)
    for day, hour in ((1, 8), (1, 12), (1, 16), (2, 8), (2, 12)):  # 20 h
        book(park, start=next_monday.replace(hour=hour) + day * DAY, minutes=240)
    tick(next_monday)
    assert set(Notice.objects.values_list("threshold", flat=True)) == {
        "75%@2026-12-07",
        "100%@2026-12-14",
    }


# ---- rounds --------------------------------------------------------------------------------


def _round(*, cutoff: dt.datetime) -> AllocationRound:
    return AllocationRound.objects.create(
        name="XRD week 51",
        period_start=cutoff + DAY,
        period_end=cutoff + 8 * DAY,
        cutoff=cutoff,
    )


def test_a_rounds_cut_off_is_announced_24_hours_before_to_those_who_have_not_asked(park, clock):
    rnd = _round(cutoff=MONDAY + 25 * HOUR)
    Booking.objects.create(
        tenant=park.acme,
        user=park.alice,
        pool=None,
        resource=park.xrd,
        round=rnd,
        title="alice asks",
        earliest_start=rnd.period_start,
        latest_end=rnd.period_end,
        duration_minutes=60,
        status=BookingStatus.REQUESTED,
    )
    tick(MONDAY)
    assert Notice.objects.filter(kind=NoticeKind.ROUND_CUTOFF).count() == 0
    tick(MONDAY + HOUR)
    told = set(
        Notice.objects.filter(kind=NoticeKind.ROUND_CUTOFF).values_list("user__username", flat=True)
    )
    assert told == {"bob", "charlie"}  # alice has asked already; olga is no tenant's member
    tick(MONDAY + 2 * HOUR)
    assert len([m for m in mail.outbox if "XRD week 51" in m.subject]) == 2


def test_a_closed_round_or_a_past_cut_off_is_not_announced(park, clock):
    closed = _round(cutoff=MONDAY + 2 * HOUR)
    AllocationRound.objects.filter(pk=closed.pk).update(status=AllocationRound.Status.CLOSED)
    _round(cutoff=MONDAY - MIN)
    tick(MONDAY)
    assert Notice.objects.count() == 0


def test_a_deactivated_user_is_not_reminded(park, clock):
    from django.contrib.auth import get_user_model

    book(park, start=MONDAY + 30 * MIN)
    get_user_model().objects.filter(pk=park.alice.pk).update(is_active=False)
    tick(MONDAY)
    assert Notice.objects.filter(user=park.alice).count() == 0
