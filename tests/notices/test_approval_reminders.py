"""Approvers are told a day before a request waiting for them lapses (an undecided request is
refused at its start): once, only the approvers of that request, in their language, and not
at all once it was decided or when they opted out (time frozen)."""

# ruff: noqa: F811 - the approvals fixture comes from tests/approvals and is named in each test
from __future__ import annotations

import datetime as dt

import pytest
from django.core import mail

from booking.approvals.services import approval_approve
from booking.notices.due import notices_find_due
from booking.notices.models import Notice, NoticeKind, NoticeStatus
from booking.notices.sending import notices_send_due
from tests.approvals.conftest import approvals, request_confocal  # noqa: F401 - a fixture
from tests.notices.conftest import HOUR, MIN, MONDAY, prefer, speaks, tick

pytestmark = pytest.mark.django_db

START = MONDAY + 30 * HOUR  # Tuesday 15:00


def _reminders() -> list:
    return [m for m in mail.outbox if "Waiting for your approval" in m.subject]


def test_the_approver_is_told_a_day_before_the_request_lapses_and_only_once(approvals, clock):
    park = approvals.park
    booking = request_confocal(park, start=START, title="Live imaging")
    mail.outbox.clear()  # the "waiting for approval" mails of the request itself
    tick(MONDAY, kinds=[NoticeKind.APPROVAL_DUE])
    assert _reminders() == []  # 30 hours before: too early
    later = START - 24 * HOUR
    clock.move_to(later)
    tick(later, kinds=[NoticeKind.APPROVAL_DUE])
    tick(later + 5 * MIN, kinds=[NoticeKind.APPROVAL_DUE])
    [message] = _reminders()
    assert message.to == [approvals.stella.email]  # not victor (XRD), not dave, not alice
    assert "Live imaging" in message.subject and "Confocal 1" in message.subject
    assert "alice" in message.body and "Acme Robotics" in message.body
    assert "08/12/2026 15:00" in message.body
    notice = Notice.objects.get(kind=NoticeKind.APPROVAL_DUE)
    assert (notice.user, notice.subject_id, notice.status) == (
        approvals.stella,
        booking.pk,
        NoticeStatus.SENT,
    )


def test_tenant_managers_are_told_where_they_approve_and_no_other_tenants(approvals, clock):
    park = approvals.park
    park.confocal.approval_by_tenant_manager = True
    park.confocal.save()
    request_confocal(park, start=START)
    mail.outbox.clear()
    tick(START - 23 * HOUR, kinds=[NoticeKind.APPROVAL_DUE])
    told = sorted(address for m in _reminders() for address in m.to)
    # bob manages acme (the requester's tenant); dave manages globex and is not told.
    assert told == sorted([approvals.stella.email, park.bob.email])


def test_a_request_decided_before_sending_is_not_reminded(approvals, clock):
    park = approvals.park
    booking = request_confocal(park, start=START)
    mail.outbox.clear()
    now = START - 20 * HOUR
    clock.move_to(now)
    assert notices_find_due(now=now, kinds=[NoticeKind.APPROVAL_DUE]) == {
        NoticeKind.APPROVAL_DUE: 1
    }
    approval_approve(user=approvals.stella, booking_id=booking.pk, now=now)
    mail.outbox.clear()
    assert notices_send_due(now=now) == 0
    assert _reminders() == []
    assert Notice.objects.get(kind=NoticeKind.APPROVAL_DUE).status == NoticeStatus.DROPPED


def test_an_approver_who_opted_out_is_not_told(approvals, clock):
    park = approvals.park
    prefer(approvals.stella, approval_due=False)
    request_confocal(park, start=START)
    mail.outbox.clear()
    tick(START - 2 * HOUR, kinds=[NoticeKind.APPROVAL_DUE])
    assert _reminders() == [] and not Notice.objects.filter(kind=NoticeKind.APPROVAL_DUE)


def test_a_request_already_past_its_start_is_not_reminded(approvals, clock):
    park = approvals.park
    request_confocal(park, start=START)
    mail.outbox.clear()
    tick(START + dt.timedelta(minutes=1), kinds=[NoticeKind.APPROVAL_DUE])
    assert not Notice.objects.filter(kind=NoticeKind.APPROVAL_DUE).exists()


def test_the_reminder_is_in_the_approvers_language(approvals, clock):
    park = approvals.park
    speaks(approvals.stella, "zh-hant")
    request_confocal(park, start=START, title="Live imaging")
    mail.outbox.clear()
    tick(START - 3 * HOUR, kinds=[NoticeKind.APPROVAL_DUE])
    [message] = [m for m in mail.outbox if approvals.stella.email in m.to]
    assert "等待你批核" in message.subject, message.subject
    assert "Live imaging" in message.subject
