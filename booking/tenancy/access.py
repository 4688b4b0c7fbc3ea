"""Who may see and act on a tenant's things: the one access rule every app uses.

A member sees and acts on their own things; a manager of a tenant on all of that tenant's
things; an operator (superuser) on everything. Anyone else is answered "not found".
"""

from __future__ import annotations

from django.db.models import Q

from booking.errors import NotFound
from booking.tenancy.models import Membership, Tenant


def is_member(*, user, tenant_id: int | None) -> bool:
    """Whether ``user`` belongs to the tenant (any role)."""
    if tenant_id is None or not user.is_authenticated:
        return False
    return Membership.objects.filter(user=user, tenant_id=tenant_id).exists()


def is_manager(*, user, tenant_id: int | None) -> bool:
    if tenant_id is None or not user.is_authenticated:
        return False
    return Membership.objects.filter(
        user=user, tenant_id=tenant_id, role=Membership.Role.MANAGER
    ).exists()


def may_act_for(*, user, owner_id: int | None, tenant_id: int | None) -> bool:
    """Whether ``user`` may act on a thing owned by ``owner_id`` in tenant ``tenant_id``: its
    owner, a manager of the tenant, or an operator."""
    if user.is_superuser or (owner_id is not None and owner_id == user.pk):
        return True
    return is_manager(user=user, tenant_id=tenant_id)


def visible_q(*, user) -> Q:
    """The things (rows with ``user`` and ``tenant`` fields) ``user`` may see in full: their
    own, and all of the tenants they manage. Operators filter nothing with it."""
    managed = Membership.objects.filter(user=user, role=Membership.Role.MANAGER).values("tenant_id")
    return Q(user=user) | Q(tenant_id__in=managed)


def require_manager(*, user, tenant: Tenant) -> None:
    """Tenant-wide views are for the tenant's managers (and operators); anyone else: 404."""
    if not user.is_superuser and not is_manager(user=user, tenant_id=tenant.pk):
        raise NotFound("tenant")
