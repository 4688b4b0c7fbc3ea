"""What the park wants Slurm to hold, from tenants, memberships, quotas and GPU bookings.

Named by the SLURM_WANTED_STATE setting and read by resources/slurm_park.py (which sits below
the booking apps and does not import them).

* Each active tenant is an account ``slug`` with '-' → '_' under the park's parent account
  (SLURM_PARENT_ACCOUNT); each member with a cluster user name an association under it.
* Fair-share = weight × 1000 (see resources.slurm_park.fairshare_of).
* The tenant's GPU quota for the period Slurm resets usage on (SLURM_QUOTA_PERIOD, default
  month) is ``GrpTRESMins=gres/gpu = hours × 60``; no such quota = no limit.
* Each confirmed GPU-node booking whose window has not ended is a reservation
  ``park_booking_<id>`` on its node for the tenant's account, over the booking's window.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from contextlib import contextmanager

from django.conf import settings
from django.utils import timezone

from booking.bookings.models import Booking, BookingStatus
from booking.leases import lease_acquire, lease_release
from booking.tenancy.models import Membership, Quota, Tenant
from resources.models import ResourceKind
from resources.slurm_park import (
    WantedAccount,
    WantedReservation,
    WantedState,
    account_name,
    fairshare_of,
    reservation_name,
)


@contextmanager
def sync_lease(name: str, *, seconds: float) -> Iterator[str | None]:
    """The reconciliation's lock (SLURM_SYNC_LEASE, read by resources/slurm_reconcile.py): the
    lease ``name`` from booking.leases for the block; yields None when another run holds it."""
    holder = lease_acquire(name=name, seconds=seconds)
    if holder is None:
        yield None
        return
    try:
        yield holder
    finally:
        lease_release(name=name, holder=holder)


def wanted_state(*, now: dt.datetime | None = None, cluster: str | None = None) -> WantedState:
    """What ``cluster`` (default: SLURM_CLUSTER) should hold: the accounts of the tenants that
    may use it (quotas are park-wide: each cluster carries the tenant's whole GPU-hour limit as
    a backstop; the park's own check at submission counts the use on every cluster) and the
    reservations of bookings on its nodes."""
    now = now or timezone.now()
    cluster = cluster or getattr(settings, "SLURM_CLUSTER", "") or ""
    period = getattr(settings, "SLURM_QUOTA_PERIOD", "month")
    tenants = [t for t in Tenant.objects.filter(active=True).order_by("pk") if _may_use(t, cluster)]
    users: dict[int, set[str]] = {t.pk: set() for t in tenants}
    for tenant_id, name in Membership.objects.filter(
        tenant__active=True, user__is_active=True
    ).values_list("tenant_id", "cluster_username"):
        if name:
            users[tenant_id].add(name)
    quota_hours = dict(
        Quota.objects.filter(
            tenant__active=True, resource_class=ResourceKind.GPU_NODE, period=period
        ).values_list("tenant_id", "hours")
    )
    accounts = [
        WantedAccount(
            name=account_name(t.slug),
            fairshare=fairshare_of(t.weight),
            gpu_minutes=(round(quota_hours[t.pk] * 60) if t.pk in quota_hours else None),
            users=frozenset(users[t.pk]),
            description=t.name[:60],
        )
        for t in tenants
    ]
    bookings = (
        Booking.objects.filter(
            status=BookingStatus.CONFIRMED,
            resource__kind=ResourceKind.GPU_NODE,
            resource__gpu__slurm_cluster=cluster,
            end__gt=now,
            tenant__active=True,
        )
        .select_related("tenant", "resource__gpu")
        .order_by("pk")
    )
    reservations = [
        WantedReservation(
            name=reservation_name(b.pk),
            nodes=(b.resource.gpu.slurm_node,),
            start=b.start,
            end=b.end,
            accounts=(account_name(b.tenant.slug),),
        )
        for b in bookings
        if b.start is not None and b.end is not None
    ]
    return WantedState(
        parent=getattr(settings, "SLURM_PARENT_ACCOUNT", "park"),
        accounts=accounts,
        reservations=reservations,
    )


def _may_use(tenant: Tenant, cluster: str) -> bool:
    from booking.compute.residency import allowed_cluster_names

    allowed = allowed_cluster_names(tenant)
    return allowed is None or cluster in allowed
