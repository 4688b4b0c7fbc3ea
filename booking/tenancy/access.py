"""Who may see and act on a tenant's things: the one access rule every app uses."""

from __future__ import annotations

from django.db.models import (
    Q,
)

from booking.errors import NotFound
from booking.tenancy.models import Membership, Tenant


def bookings_visible_q(*, user) -> Q:
    """Bookings a user may see in full: their own, and all of tenants they manage."""
    managed = Membership.objects.filter(user=user, role=Membership.Role.MANAGER).values("tenant_id")
    return Q(user=user) | Q(tenant_id__in=managed)


def require_manager(*, user, tenant: Tenant) -> None:
    """Tenant-wide views are for the tenant's managers (and operators); anyone else: 404."""
    if user.is_superuser:
        return
    if not Membership.objects.filter(
        user=user, tenant=tenant, role=Membership.Role.MANAGER
    ).exists():
        raise NotFound("tenant")
