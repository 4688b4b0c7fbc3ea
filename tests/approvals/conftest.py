"""An approvals park: confocal 1 needs approval by stella (the park's microscopy staff, a
member of the park's own tenant); dave manages Globex (another tenant's PI); victor approves
the XRD only (an approver of another resource)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import pytest
from django.utils import timezone


@dataclass
class Approvals:
    park: object
    stella: object
    dave: object
    victor: object
    staff: object


def at(days: int, hour: int, minute: int = 0) -> dt.datetime:
    """Local time ``days`` from today at hour:minute."""
    day = timezone.localdate() + dt.timedelta(days=days)
    return dt.datetime.combine(day, dt.time(hour, minute), tzinfo=timezone.get_current_timezone())


@pytest.fixture
def approvals(park) -> Approvals:
    from django.contrib.auth import get_user_model

    from booking.tenancy.models import Membership, Tenant, Tier
    from resources.models import ApprovalPolicy

    User = get_user_model()
    stella = User.objects.create_user(
        "stella", "stella@park.local", "pw-stella", first_name="Stella", last_name="Wong"
    )
    dave = User.objects.create_user("dave", "dave@globex.example", "pw-dave", first_name="Dave")
    victor = User.objects.create_user("victor", "victor@park.local", "pw-victor")
    staff = Tenant.objects.create(
        name="Park services",
        slug="park-services",
        tier=Tier.STARTUP,
        home_park="hk",
        weight=1,
        slurm_account="park_services",
    )
    for user in (stella, victor):
        Membership.objects.create(user=user, tenant=staff)
    Membership.objects.create(user=dave, tenant=park.globex, role=Membership.Role.MANAGER)
    park.confocal.approval = ApprovalPolicy.ALWAYS
    park.confocal.save()
    park.confocal.approvers.add(stella)
    park.xrd.approval = ApprovalPolicy.ALWAYS
    park.xrd.save()
    park.xrd.approvers.add(victor)
    return Approvals(park=park, stella=stella, dave=dave, victor=victor, staff=staff)


def request_confocal(park, *, user=None, tenant=None, start=None, hours=1, title="Live imaging"):
    from booking.bookings.services import booking_create_instant

    start = start or at(2, 10)
    return booking_create_instant(
        user=user or park.alice,
        tenant=tenant or park.acme,
        resource=park.confocal,
        start=start,
        end=start + dt.timedelta(hours=hours),
        title=title,
    )
