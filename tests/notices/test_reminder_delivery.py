"""Reminders are sent once — also after a crash and with two workers at once — one by one or as
one daily digest, in the reader's language (time frozen)."""

from __future__ import annotations

import threading

import pytest
from django.core import mail
from django.db import connection

from booking.notices.models import Delivery, Notice, NoticeDigest, NoticeKind, NoticeStatus
from booking.notices.sending import notices_send_due
from resources.models import TrainingRecord
from tests.notices.conftest import DAY, HOUR, MIN, MONDAY, book, prefer, speaks, tick

pytestmark = pytest.mark.django_db

SEVEN = MONDAY - 2 * HOUR  # 07:00


def _expiring_in(user, training, days: int) -> TrainingRecord:
    TrainingRecord.objects.filter(user=user, training=training).delete()
    expires = SEVEN.date() + days * DAY
    return TrainingRecord.objects.create(
        user=user, training=training, granted_on=expires - 365 * DAY, expires_on=expires
    )


# ---- the daily digest ----------------------------------------------------------------------


def test_a_digest_collects_the_days_notices_and_is_sent_once_at_its_hour(park, clock):
    prefer(park.alice, delivery=Delivery.DIGEST, digest_hour=8)
    clock.move_to(SEVEN - HOUR)
    book(park, start=MONDAY + 6 * HOUR, title="Afternoon imaging")  # 15:00
    _expiring_in(park.alice, park.microscopy, 7)
    tick(SEVEN)
    assert mail.outbox == []
    assert Notice.objects.filter(user=park.alice, status=NoticeStatus.PENDING).count() == 2
    tick(SEVEN + 59 * MIN)
    assert mail.outbox == []
    tick(SEVEN + HOUR)  # 08:00
    [digest] = mail.outbox
    assert digest.to == [park.alice.email]
    assert "07/12/2026" in digest.subject
    assert "Afternoon imaging" in digest.body and "Confocal microscopy" in digest.body
    tick(SEVEN + HOUR + MIN)
    tick(SEVEN + 2 * HOUR)
    assert len(mail.outbox) == 1
    assert NoticeDigest.objects.get(user=park.alice).notices == 2


def test_a_notice_found_after_the_days_digest_waits_for_the_next_one(park, clock):
    prefer(park.alice, delivery=Delivery.DIGEST, digest_hour=8)
    _expiring_in(park.alice, park.microscopy, 7)
    tick(SEVEN + HOUR)
    assert len(mail.outbox) == 1
    clock.move_to(MONDAY + HOUR)
    book(park, start=MONDAY + DAY + 3 * HOUR, title="Tuesday noon")  # found at 10:00
    tick(MONDAY + HOUR)
    tick(MONDAY + 8 * HOUR)
    assert len(mail.outbox) == 1
    tick(SEVEN + DAY + HOUR)  # Tuesday 08:00
    assert len(mail.outbox) == 2 and "Tuesday noon" in mail.outbox[1].body


def test_a_digest_leaves_out_a_booking_cancelled_meanwhile(park, clock):
    from booking.bookings.services import booking_cancel

    prefer(park.alice, delivery=Delivery.DIGEST, digest_hour=8)
    clock.move_to(SEVEN - HOUR)
    kept = book(park, start=MONDAY + 6 * HOUR, title="Kept run")
    gone = book(park, start=MONDAY + 8 * HOUR, title="Dropped run")
    tick(SEVEN)
    booking_cancel(user=park.alice, booking=gone, now=SEVEN + MIN)
    tick(SEVEN + HOUR)
    [digest] = mail.outbox
    assert "Kept run" in digest.body and "Dropped run" not in digest.body
    assert Notice.objects.get(subject_id=gone.pk).status == NoticeStatus.DROPPED
    assert Notice.objects.get(subject_id=kept.pk).status == NoticeStatus.SENT


def test_leaving_the_digest_sends_the_held_notices_one_by_one(park, clock):
    prefer(park.alice, delivery=Delivery.DIGEST, digest_hour=20)
    _expiring_in(park.alice, park.microscopy, 7)
    tick(SEVEN)
    assert mail.outbox == []
    prefer(park.alice, delivery=Delivery.IMMEDIATE)
    tick(SEVEN + MIN)
    assert len(mail.outbox) == 1


# ---- exactly once --------------------------------------------------------------------------


def test_a_notice_claimed_by_a_worker_that_died_is_sent_after_the_claim_goes_stale(
    park, clock, settings
):
    settings.NOTICE_STALE_CLAIM_SECONDS = 600
    book(park, start=MONDAY + 3 * HOUR)
    tick(MONDAY + 2 * HOUR + MIN, kinds=[NoticeKind.BOOKING_START])
    mail.outbox.clear()
    # A worker claimed it and died before sending or marking it.
    Notice.objects.update(
        status=NoticeStatus.SENDING, claim="dead", claimed_at=MONDAY + 2 * HOUR, sent_at=None
    )
    assert notices_send_due(now=MONDAY + 2 * HOUR + 5 * MIN) == 0  # the claim is still fresh
    assert notices_send_due(now=MONDAY + 2 * HOUR + 11 * MIN) == 1
    assert notices_send_due(now=MONDAY + 2 * HOUR + 12 * MIN) == 0
    notice = Notice.objects.get()
    assert notice.status == NoticeStatus.SENT and notice.attempts == 2


def test_a_notice_the_mail_server_refused_is_tried_again_later_then_given_up(
    park, clock, monkeypatch
):
    from booking.notices import sending

    monkeypatch.setattr(sending, "send_park_mail", lambda **kwargs: 0)
    book(park, start=MONDAY + 30 * MIN)
    tick(MONDAY)
    assert Notice.objects.get().status == NoticeStatus.PENDING
    tick(MONDAY + MIN)  # too soon to try again
    assert Notice.objects.get().attempts == 1
    tick(MONDAY + 6 * MIN)
    tick(MONDAY + 12 * MIN)
    notice = Notice.objects.get()
    assert (notice.status, notice.attempts) == (NoticeStatus.FAILED, 3)


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_two_workers_ticking_at_the_same_moment_send_each_reminder_once(park):
    for hour in (1, 2):
        book(park, start=MONDAY + hour * HOUR, title=f"run {hour}")
    prefer(park.alice, lead_minutes=180)
    _expiring_in(park.charlie, park.microscopy, 7)
    mail.outbox.clear()  # the booking confirmations, sent on commit here
    barrier = threading.Barrier(2)
    errors = []

    def worker():
        try:
            barrier.wait()
            tick(MONDAY)
        except Exception as exc:  # noqa: BLE001 - reported below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=worker) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert sorted(m.to[0] for m in mail.outbox) == [
        park.alice.email,
        park.alice.email,
        park.charlie.email,
    ]
    assert Notice.objects.filter(status=NoticeStatus.SENT).count() == 3


# ---- the reader's language -----------------------------------------------------------------


def test_a_reminder_is_written_in_traditional_chinese_with_the_hong_kong_date(park, clock):
    speaks(park.alice, "zh-hant")
    book(park, start=MONDAY + 30 * MIN, title="活細胞成像")
    tick(MONDAY)
    [message] = mail.outbox
    assert message.subject == "提醒：活細胞成像於 2026年12月7日 09:30 開始"
    assert "您的預約「活細胞成像」（Confocal 1）於 2026年12月7日 09:30 開始" in message.body
    assert "Hello" not in message.body


def test_a_quota_notice_and_a_digest_in_simplified_chinese(park, clock):
    speaks(park.bob, "zh-hans")
    prefer(park.bob, delivery=Delivery.DIGEST, digest_hour=9)
    for day, hour in ((1, 8), (1, 12), (1, 16), (2, 8)):
        book(park, start=MONDAY.replace(hour=hour) + day * DAY, minutes=240)
    tick(MONDAY)
    [digest] = mail.outbox
    assert "2026年12月7日" in digest.subject and "提醒" in digest.subject
    assert "Acme Robotics 本期（每周）的实验室仪器配额已用 80%（16 / 20 仪器小时）" in digest.body
