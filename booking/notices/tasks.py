"""The reminder ticks: find what is due and send it (exactly once: see ``sending``)."""

from __future__ import annotations

import logging

from django.utils import timezone
from huey import crontab
from huey.contrib.djhuey import db_periodic_task

from booking.notices.due import notices_find_due
from booking.notices.models import NoticeKind
from booking.notices.sending import notices_send_digests, notices_send_due

logger = logging.getLogger(__name__)

# Every minute: booking starts (lead times are in minutes), round cut-offs and approvals about
# to lapse, then sending.
MINUTE_KINDS = (NoticeKind.BOOKING_START, NoticeKind.ROUND_CUTOFF, NoticeKind.APPROVAL_DUE)
# Every 15 minutes: trainings (whole days) and quotas (a usage sum per quota).
QUARTER_KINDS = (NoticeKind.TRAINING_EXPIRY, NoticeKind.QUOTA)


def notices_tick(*, now=None, kinds=MINUTE_KINDS) -> dict:
    """Find the due notices of ``kinds``, then send what is pending (one by one, and the
    digests whose hour has come). Safe to run twice at once: see ``booking.notices.sending``."""
    now = now or timezone.now()
    found = notices_find_due(now=now, kinds=kinds)
    sent = notices_send_due(now=now)
    digests = notices_send_digests(now=now)
    if sent or digests:
        logger.info("reminders: %s e-mails, %s digests", sent, digests)
    return {"found": found, "sent": sent, "digests": digests}


@db_periodic_task(crontab(minute="*"), retries=0)
def notices_minute_task() -> int:
    result = notices_tick(kinds=MINUTE_KINDS)
    return result["sent"] + result["digests"]


@db_periodic_task(crontab(minute="*/15"), retries=0)
def notices_quarter_task() -> int:
    result = notices_tick(kinds=QUARTER_KINDS)
    return result["sent"] + result["digests"]
