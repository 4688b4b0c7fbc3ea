"""The demo's approvals: biosafety cabinet A needs the biosafety officer's approval for every
booking, and two members' requests wait in the officer's queue.

Built after the month of activity, so the past bookings of the cabinet stay as they were (the
rule applies from now on, as it would when an operator switches it on).
"""

from __future__ import annotations

import datetime as dt

from django.contrib.auth import get_user_model
from django.contrib.auth.hashers import make_password
from django.utils import timezone

from booking.bookings.models import BookingStatus
from booking.bookings.rules import booking_check
from booking.bookings.services import booking_create_instant
from booking.rounds.demo import DEMO_PASSWORD
from booking.tenancy.models import Membership
from resources.models import ApprovalPolicy, Resource

APPROVER = "biosafety"
CABINET = "bsc-a"


def approvals_make(*, favourite: Membership, now: dt.datetime) -> int:
    """Make cabinet A need approval by the biosafety officer (user ``biosafety``) and leave
    requests of the demo member waiting for them. Out: how many wait."""
    cabinet = Resource.objects.filter(slug=CABINET).first()
    if cabinet is None:
        return 0
    officer, _created = get_user_model().objects.get_or_create(
        username=APPROVER,
        defaults={
            "email": "biosafety@park.local",
            "first_name": "Mei",
            "last_name": "Ho (biosafety officer)",
            "password": make_password(DEMO_PASSWORD),
        },
    )
    cabinet.approval = ApprovalPolicy.ALWAYS
    cabinet.save(update_fields=["approval"])
    cabinet.approvers.add(officer)
    waiting = 0
    titles = ["Primary cell culture passage", "Viral vector aliquoting"]
    local = timezone.localtime(now).replace(minute=0, second=0, microsecond=0)
    for days in range(2, 12):
        if not titles:
            break
        for hour in range(9, 17):
            start = (local + dt.timedelta(days=days)).replace(hour=hour)
            end = start + dt.timedelta(hours=2)
            problems = booking_check(
                user=favourite.user,
                tenant=favourite.tenant,
                resource=cabinet,
                start=start,
                end=end,
                now=now,
            )
            if problems:
                continue
            booking = booking_create_instant(
                user=favourite.user,
                tenant=favourite.tenant,
                resource=cabinet,
                start=start,
                end=end,
                title=titles.pop(0),
                now=now,
            )
            waiting += booking.status == BookingStatus.PENDING_APPROVAL
            break
    return waiting
