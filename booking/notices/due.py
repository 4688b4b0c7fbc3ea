"""Finding the notices that are due, kind by kind, and storing each one once.

Each finder reads one bounded window in a few statements (no query per user): the users'
preferences come in through a LEFT JOIN (a user without a row has the defaults), subjects
already noticed are left out with ``NOT EXISTS``, and the rows are inserted with
``ON CONFLICT DO NOTHING`` against ``notice_once_per_user_subject_threshold`` — so a second
tick, a retried task or a second worker running at the same moment stores nothing twice.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from decimal import Decimal

from django.contrib.auth import get_user_model
from django.db.models import Exists, OuterRef, Q
from django.utils import timezone

from booking.bookings.models import Booking, BookingStatus
from booking.notices.models import (
    LEAD_MINUTES_DEFAULT,
    Delivery,
    Notice,
    NoticeKind,
)
from booking.rounds.models import AllocationRound
from booking.tenancy.models import Membership, Quota
from booking.tenancy.selectors import period_bounds, used_hours
from resources.models import Resource, TrainingRecord

# Digest readers see the bookings that start within a day of their digest.
DIGEST_BOOKING_WINDOW = dt.timedelta(hours=24)
TRAINING_THRESHOLDS = (30, 7)  # days before expiry
QUOTA_THRESHOLDS = (100, 75)  # percent of the period's quota, highest first
ROUND_WINDOW = dt.timedelta(hours=24)
# A request nobody decides is refused at its start (booking.approvals.services.approvals_expire):
# its approvers are told a day before.
APPROVAL_WINDOW = dt.timedelta(hours=24)


def _wants(kind: str, path: str = "user__") -> Q:
    """Active users who did not opt out of ``kind`` (no preference row means every kind)."""
    return Q(**{f"{path}is_active": True}) & (
        Q(**{f"{path}notice_preference__isnull": True})
        | Q(**{f"{path}notice_preference__{kind}": True})
    )


def _noticed(kind: str, *, subject: str, user: str = "user_id", threshold: str | None = None):
    found = Notice.objects.filter(kind=kind, subject_id=OuterRef(subject), user_id=OuterRef(user))
    if threshold is not None:
        found = found.filter(threshold=threshold)
    return Exists(found)


def _store(rows: list[Notice]) -> int:
    """Insert the notices, each at most once (a conflict on the unique constraint is skipped)."""
    if rows:
        # In key order: two workers inserting the same keys then wait for each other instead
        # of deadlocking.
        rows.sort(key=lambda n: (n.user_id, n.kind, n.subject_id, n.threshold))
        Notice.objects.bulk_create(rows, ignore_conflicts=True, batch_size=1000)
    return len(rows)


def booking_start_notices_find(*, now: dt.datetime) -> int:
    """Confirmed bookings that have not started and start within their owner's lead time
    (digest readers: within a day). The owner alone is told. Returns the notices offered."""
    window = Booking.objects.filter(
        status=BookingStatus.CONFIRMED,
        start__gt=now,
        start__lte=now + DIGEST_BOOKING_WINDOW,
    ).filter(_wants(NoticeKind.BOOKING_START))
    window = window.exclude(_noticed(NoticeKind.BOOKING_START, subject="pk"))
    rows = []
    for pk, user_id, tenant_id, start, end, title, resource, delivery, lead in window.values_list(
        "pk",
        "user_id",
        "tenant_id",
        "start",
        "end",
        "title",
        "resource__name",
        "user__notice_preference__delivery",
        "user__notice_preference__lead_minutes",
    ):
        delivery = delivery or Delivery.IMMEDIATE
        lead = dt.timedelta(minutes=lead or LEAD_MINUTES_DEFAULT)
        if delivery == Delivery.IMMEDIATE and start > now + lead:
            continue
        rows.append(
            Notice(
                user_id=user_id,
                kind=NoticeKind.BOOKING_START,
                subject_id=pk,
                threshold="lead",
                tenant_id=tenant_id,
                delivery=delivery,
                created_at=now,
                params={
                    "title": title,
                    "resource": resource,
                    "start": start.isoformat(),
                    "end": end.isoformat(),
                },
            )
        )
    return _store(rows)


def training_expiry_notices_find(*, now: dt.datetime) -> int:
    """Training records expiring within 30 days (threshold ``30d``) and within 7 days
    (``7d``), unless the user already holds a later record of the same training (renewed).
    Only the nearest threshold is sent: a record found 5 days before expiry gets ``7d``."""
    today = timezone.localdate(now)
    renewed = TrainingRecord.objects.filter(
        user_id=OuterRef("user_id"),
        training_id=OuterRef("training_id"),
        expires_on__gt=OuterRef("expires_on"),
    )
    rows = []
    bounds = zip(TRAINING_THRESHOLDS, (*TRAINING_THRESHOLDS[1:], 0), strict=True)
    for days, below in bounds:
        threshold = f"{days}d"
        records = (
            TrainingRecord.objects.filter(
                expires_on__gt=today + dt.timedelta(days=below),
                expires_on__lte=today + dt.timedelta(days=days),
            )
            .filter(_wants(NoticeKind.TRAINING_EXPIRY))
            .exclude(Exists(renewed))
            .exclude(_noticed(NoticeKind.TRAINING_EXPIRY, subject="pk", threshold=threshold))
        )
        for pk, user_id, training, expires_on, delivery in records.values_list(
            "pk", "user_id", "training__name", "expires_on", "user__notice_preference__delivery"
        ):
            rows.append(
                Notice(
                    user_id=user_id,
                    kind=NoticeKind.TRAINING_EXPIRY,
                    subject_id=pk,
                    threshold=threshold,
                    delivery=delivery or Delivery.IMMEDIATE,
                    created_at=now,
                    params={"training": training, "expires_on": expires_on.isoformat()},
                )
            )
    return _store(rows)


def _quota_reached(quota: Quota, *, now: dt.datetime) -> tuple[int, dict] | None:
    start, end = period_bounds(period=quota.period, at=now)
    used = used_hours(
        tenant=quota.tenant, resource_class=quota.resource_class, start=start, end=end
    )
    percent = used * 100 / quota.hours
    reached = next((t for t in QUOTA_THRESHOLDS if percent >= t), None)
    if reached is None:
        return None
    return reached, {
        "tenant": quota.tenant.name,
        "resource_class": quota.resource_class,
        "period": quota.period,
        "period_start": start.isoformat(),
        "period_end": end.isoformat(),
        "percent": int(min(percent, Decimal(999))),
        "used_hours": str(used),
        "quota_hours": str(quota.hours),
    }


def quota_notices_find(*, now: dt.datetime) -> int:
    """Quotas whose use in the current period has reached 75% or 100% (once per period and
    threshold; only the highest reached). The tenant's managers are told: they own the quota
    and can ask the park for more; members see the refusal when they book."""
    reached: dict[int, list[tuple[Quota, int, dict]]] = {}
    quotas = Quota.objects.filter(tenant__active=True, hours__gt=0).select_related("tenant")
    for quota in quotas:
        found = _quota_reached(quota, now=now)
        if found is not None:
            reached.setdefault(quota.tenant_id, []).append((quota, *found))
    if not reached:
        return 0
    managers = (
        Membership.objects.filter(tenant_id__in=reached, role=Membership.Role.MANAGER)
        .filter(_wants(NoticeKind.QUOTA))
        .values_list("user_id", "tenant_id", "user__notice_preference__delivery")
    )
    rows = []
    for user_id, tenant_id, delivery in managers:
        for quota, percent, params in reached[tenant_id]:
            rows.append(
                Notice(
                    user_id=user_id,
                    kind=NoticeKind.QUOTA,
                    subject_id=quota.pk,
                    threshold=f"{percent}%@{params['period_start'][:10]}",
                    tenant_id=tenant_id,
                    delivery=delivery or Delivery.IMMEDIATE,
                    created_at=now,
                    params=params,
                )
            )
    return _store(rows)


def round_cutoff_notices_find(*, now: dt.datetime) -> int:
    """Open rounds whose cut-off falls within 24 hours: every member (and manager) of an
    active tenant who has not asked for time in the round yet is told, once per round."""
    rounds = AllocationRound.objects.filter(
        status=AllocationRound.Status.OPEN, cutoff__gt=now, cutoff__lte=now + ROUND_WINDOW
    ).values_list("pk", "name", "cutoff", "period_start", "period_end")
    rows = []
    for pk, name, cutoff, period_start, period_end in rounds:
        asked = Booking.objects.filter(round_id=pk, user_id=OuterRef("user_id"))
        people = (
            Membership.objects.filter(tenant__active=True)
            .filter(_wants(NoticeKind.ROUND_CUTOFF))
            .exclude(Exists(asked))
            .exclude(
                Exists(
                    Notice.objects.filter(
                        kind=NoticeKind.ROUND_CUTOFF, subject_id=pk, user_id=OuterRef("user_id")
                    )
                )
            )
            .order_by("user_id", "tenant_id")
            .values_list("user_id", "tenant_id", "user__notice_preference__delivery")
        )
        params = {
            "round": name,
            "cutoff": cutoff.isoformat(),
            "period_start": period_start.isoformat(),
            "period_end": period_end.isoformat(),
        }
        seen: set[int] = set()
        for user_id, tenant_id, delivery in people:
            if user_id in seen:  # a member of two tenants hears of the round once
                continue
            seen.add(user_id)
            rows.append(
                Notice(
                    user_id=user_id,
                    kind=NoticeKind.ROUND_CUTOFF,
                    subject_id=pk,
                    threshold="24h",
                    tenant_id=tenant_id,
                    delivery=delivery or Delivery.IMMEDIATE,
                    created_at=now,
                    params=params,
                )
            )
    return _store(rows)


def approval_due_notices_find(*, now: dt.datetime) -> int:
    """Requests waiting for approval whose start (when they lapse) falls within a day: each of
    their approvers — the resource's, and the tenant's managers where the resource lets them
    decide — is told once per request. Approvers see only requests they may decide."""
    pending = list(
        Booking.objects.filter(
            status=BookingStatus.PENDING_APPROVAL,
            start__gt=now,
            start__lte=now + APPROVAL_WINDOW,
        ).values_list(
            "pk",
            "tenant_id",
            "resource_id",
            "resource__approval_by_tenant_manager",
            "title",
            "resource__name",
            "tenant__name",
            "user__username",
            "start",
        )
    )
    if not pending:
        return 0
    by_resource: dict[int, set[int]] = {}
    through = Resource.approvers.through.objects.filter(resource_id__in={p[2] for p in pending})
    for resource_id, user_id in through.values_list("resource_id", "user_id"):
        by_resource.setdefault(resource_id, set()).add(user_id)
    by_tenant: dict[int, set[int]] = {}
    managed = Membership.objects.filter(
        tenant_id__in={p[1] for p in pending if p[3]}, role=Membership.Role.MANAGER
    )
    for tenant_id, user_id in managed.values_list("tenant_id", "user_id"):
        by_tenant.setdefault(tenant_id, set()).add(user_id)
    everyone = set().union(*by_resource.values(), *by_tenant.values())
    wanting = dict(
        get_user_model()
        .objects.filter(pk__in=everyone)
        .filter(_wants(NoticeKind.APPROVAL_DUE, path=""))
        .values_list("pk", "notice_preference__delivery")
    )
    told = set(
        Notice.objects.filter(
            kind=NoticeKind.APPROVAL_DUE, subject_id__in=[p[0] for p in pending]
        ).values_list("user_id", "subject_id")
    )
    rows = []
    for (
        pk,
        tenant_id,
        resource_id,
        by_manager,
        title,
        resource,
        tenant,
        requester,
        start,
    ) in pending:
        approvers = by_resource.get(resource_id, set())
        if by_manager:
            approvers = approvers | by_tenant.get(tenant_id, set())
        for user_id in sorted(approvers):
            if user_id not in wanting or (user_id, pk) in told:
                continue
            rows.append(
                Notice(
                    user_id=user_id,
                    kind=NoticeKind.APPROVAL_DUE,
                    subject_id=pk,
                    threshold="24h",
                    tenant_id=tenant_id,
                    delivery=wanting[user_id] or Delivery.IMMEDIATE,
                    created_at=now,
                    params={
                        "title": title,
                        "resource": resource,
                        "tenant": tenant,
                        "requester": requester,
                        "start": start.isoformat(),
                    },
                )
            )
    return _store(rows)


FINDERS = {
    NoticeKind.BOOKING_START: booking_start_notices_find,
    NoticeKind.TRAINING_EXPIRY: training_expiry_notices_find,
    NoticeKind.QUOTA: quota_notices_find,
    NoticeKind.ROUND_CUTOFF: round_cutoff_notices_find,
    NoticeKind.APPROVAL_DUE: approval_due_notices_find,
}


def notices_find_due(*, now: dt.datetime, kinds: Iterable[str] = tuple(FINDERS)) -> dict:
    """Run the finders of ``kinds``; returns the notices each offered to store."""
    return {kind: FINDERS[kind](now=now) for kind in kinds}
