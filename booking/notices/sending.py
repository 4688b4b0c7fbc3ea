"""Sending the stored notices: one e-mail each, or one daily digest per reader, each in the
reader's language (run in the worker).

Exactly once: a notice is sent only by the pass that claimed it — a compare-and-set from
``pending`` to ``sending`` stamped with the pass's random ``claim`` token — and only that pass
marks it ``sent``. A worker killed between its claim and its mark leaves the row ``sending``;
after ``NOTICE_STALE_CLAIM_SECONDS`` the next pass puts it back to ``pending`` (at most
``MAX_ATTEMPTS`` claims, then ``failed``) and it is sent again. So a reminder is not lost to a
crash; the price is a second copy in the one case where the mail server accepted the message
and the worker died before its mark (a moment of milliseconds). A daily digest is one row of
``NoticeDigest`` per reader and day, inserted before its notices are claimed: one e-mail a day
at most.
"""

from __future__ import annotations

import datetime as dt
import secrets
from collections import defaultdict

from django.conf import settings
from django.db.models import F, Q
from django.utils import timezone, translation

from booking.bookings.models import Booking, BookingStatus
from booking.formats import day_text
from booking.mail import send_park_mail
from booking.notices.models import (
    Delivery,
    Notice,
    NoticeDigest,
    NoticeKind,
    NoticeStatus,
)
from booking.notices.texts import notice_text
from booking.tenancy.models import UserLanguage

BATCH = 500
MAX_ATTEMPTS = 3
# A notice whose e-mail could not be sent waits this long before it is tried again.
RETRY_DELAY = dt.timedelta(minutes=5)


def _stale_claims_release(*, now: dt.datetime) -> None:
    stale = now - dt.timedelta(seconds=settings.NOTICE_STALE_CLAIM_SECONDS)
    dead = Notice.objects.filter(status=NoticeStatus.SENDING, claimed_at__lt=stale)
    dead.filter(attempts__gte=MAX_ATTEMPTS).update(status=NoticeStatus.FAILED, claim="")
    dead.update(status=NoticeStatus.PENDING, claim="")


def _claim(queue, *, now: dt.datetime) -> str:
    token = secrets.token_hex(16)
    Notice.objects.filter(pk__in=list(queue.values_list("pk", flat=True)[:BATCH])).filter(
        status=NoticeStatus.PENDING
    ).update(status=NoticeStatus.SENDING, claim=token, claimed_at=now, attempts=F("attempts") + 1)
    return token


def _still_relevant(notices: list[Notice], *, now: dt.datetime) -> tuple[list[Notice], list]:
    """Split off booking reminders whose booking was cancelled, moved away or has started, and
    approval reminders whose request was decided, withdrawn or has lapsed."""
    waiting_in = {
        NoticeKind.BOOKING_START: BookingStatus.CONFIRMED,
        NoticeKind.APPROVAL_DUE: BookingStatus.PENDING_APPROVAL,
    }
    alive: set[tuple[str, int]] = set()
    for kind, status in waiting_in.items():
        ids = [n.subject_id for n in notices if n.kind == kind]
        if ids:
            still = Booking.objects.filter(pk__in=ids, status=status, start__gt=now)
            alive.update((kind, pk) for pk in still.values_list("pk", flat=True))
    keep, drop = [], []
    for notice in notices:
        gone = notice.kind in waiting_in and (notice.kind, notice.subject_id) not in alive
        (drop if gone else keep).append(notice)
    return keep, [n.pk for n in drop]


def _languages(user_ids) -> dict[int, str]:
    return dict(
        UserLanguage.objects.filter(user_id__in=set(user_ids)).values_list("user_id", "language")
    )


def _finish(*, token: str, sent: list[int], failed: list[int], dropped: list[int], now) -> None:
    mine = Notice.objects.filter(claim=token, status=NoticeStatus.SENDING)
    if sent:
        mine.filter(pk__in=sent).update(status=NoticeStatus.SENT, sent_at=now, claim="")
    if dropped:
        mine.filter(pk__in=dropped).update(status=NoticeStatus.DROPPED, claim="")
    if failed:
        # Tried again after RETRY_DELAY, by a later pass (claimed_at says when it was tried).
        again = mine.filter(pk__in=failed)
        again.filter(attempts__gte=MAX_ATTEMPTS).update(status=NoticeStatus.FAILED, claim="")
        again.update(status=NoticeStatus.PENDING, claim="")


def _mail(*, user, language: str, template: str, context: dict) -> int:
    return send_park_mail(
        to=[user.email],
        template=template,
        context={"user": user, **context},
        language=language,
    )


def notices_send_due(*, now: dt.datetime | None = None) -> int:
    """Send every pending notice of readers who take one e-mail each, in batches; returns the
    number of e-mails sent. A reader without an address has the notice dropped."""
    now = now or timezone.now()
    _stale_claims_release(now=now)
    queue = Notice.objects.filter(
        Q(claimed_at__isnull=True) | Q(claimed_at__lt=now - RETRY_DELAY),
        status=NoticeStatus.PENDING,
        delivery=Delivery.IMMEDIATE,
    ).order_by("created_at", "pk")
    total = 0
    while True:
        token = _claim(queue, now=now)
        notices = list(Notice.objects.filter(claim=token).select_related("user").order_by("pk"))
        if not notices:
            return total
        keep, dropped = _still_relevant(notices, now=now)
        languages = _languages(n.user_id for n in keep)
        today = timezone.localdate(now)
        sent, failed = [], []
        for notice in keep:
            if not notice.user.email:
                dropped.append(notice.pk)
                continue
            language = languages.get(notice.user_id, settings.LANGUAGE_CODE)
            with translation.override(language):
                subject, text = notice_text(notice, today=today)
            count = _mail(
                user=notice.user,
                language=language,
                template="notice",
                context={"subject": subject, "text": text},
            )
            (sent if count else failed).append(notice.pk)
            total += count
        _finish(token=token, sent=sent, failed=failed, dropped=dropped, now=now)


def notices_send_digests(*, now: dt.datetime | None = None) -> int:
    """Send today's digest to every digest reader whose hour has come and who has pending
    notices: one e-mail listing them all, at most one a day (``notice_digest_once_a_day``).
    Notices found after the day's digest wait for the next one. Returns e-mails sent."""
    now = now or timezone.now()
    _stale_claims_release(now=now)
    local = timezone.localtime(now)
    today = local.date()
    waiting = (
        Notice.objects.filter(
            status=NoticeStatus.PENDING,
            delivery=Delivery.DIGEST,
            user__notice_preference__digest_hour__lte=local.hour,
        )
        .exclude(user__notice_digests__day=today)
        .values_list("user_id", flat=True)
        .order_by("user_id")
        .distinct()
    )
    token = secrets.token_hex(16)
    NoticeDigest.objects.bulk_create(
        [NoticeDigest(user_id=u, day=today, claim=token) for u in waiting],
        ignore_conflicts=True,
        batch_size=1000,
    )
    digests = {d.user_id: d for d in NoticeDigest.objects.filter(day=today, claim=token)}
    if not digests:
        return 0
    mine = NoticeDigest.objects.filter(day=today, claim=token).values("user_id")
    Notice.objects.filter(
        status=NoticeStatus.PENDING, delivery=Delivery.DIGEST, user_id__in=mine
    ).update(status=NoticeStatus.SENDING, claim=token, claimed_at=now, attempts=F("attempts") + 1)
    claimed = list(Notice.objects.filter(claim=token).select_related("user").order_by("pk"))
    keep, dropped = _still_relevant(claimed, now=now)
    by_user: dict[int, list[Notice]] = defaultdict(list)
    for notice in keep:
        by_user[notice.user_id].append(notice)
    languages = _languages(by_user)
    sent, failed, total = [], [], 0
    for user_id, notices in by_user.items():
        user = notices[0].user
        language = languages.get(user_id, settings.LANGUAGE_CODE)
        with translation.override(language):
            lines = [notice_text(n, today=today)[1] for n in notices]
            day = day_text(today)
        count = _mail(
            user=user,
            language=language,
            template="notice_digest",
            context={"lines": lines, "day": day},
        )
        (sent if count else failed).extend(n.pk for n in notices)
        total += count
        digests[user_id].notices = len(notices) if count else 0
    _finish(token=token, sent=sent, failed=failed, dropped=dropped, now=now)
    NoticeDigest.objects.bulk_update([d for d in digests.values() if d.notices], ["notices"])
    # A reader who got nothing (every notice dropped, or the mail server refused) has no
    # digest today yet: a later pass may still send one.
    empty = [u for u, d in digests.items() if not d.notices]
    NoticeDigest.objects.filter(day=today, claim=token, user_id__in=empty).delete()
    return total
