"""What an approver sees: the requests waiting for them, and a request they may decide on.

An approver sees only bookings of the resources they approve, or of the tenants they manage
where the resource lets the tenant's managers approve (``bookings.approval.approvers_q``);
anyone else's request answers "not found".
"""

from __future__ import annotations

from django.db.models import Q, QuerySet

from booking.bookings.approval import approvers_q
from booking.bookings.models import Booking, BookingStatus
from booking.errors import NotFound
from booking.tenancy.models import Membership
from resources.models import ApprovalPolicy, Resource


def approves_anything(*, user) -> bool:
    """Whether ``user`` approves some resource (named an approver, or a manager of a tenant on
    a resource whose tenant managers approve): the navigation lists the queue only for them."""
    if not user.is_authenticated:
        return False
    if Resource.objects.filter(approvers=user).exists():
        return True
    manages = Membership.objects.filter(user=user, role=Membership.Role.MANAGER).exists()
    return (
        manages
        and Resource.objects.filter(approval_by_tenant_manager=True)
        .exclude(approval=ApprovalPolicy.NONE)
        .exists()
    )


def _visible(*, user) -> QuerySet:
    ids = Booking.objects.filter(approvers_q(user=user)).values("pk")
    return Booking.objects.filter(pk__in=ids).select_related(
        "tenant", "user", "resource", "recipe", "round"
    )


def approvals_pending(*, user, resource: str | None = None) -> QuerySet:
    """The requests waiting for ``user``'s decision, soonest start first."""
    qs = _visible(user=user).filter(status=BookingStatus.PENDING_APPROVAL)
    if resource:
        qs = qs.filter(resource__slug=resource)
    return qs.order_by("start", "pk")


def approvals_decided(*, user, limit: int = 20) -> list[Booking]:
    """The latest requests ``user`` may approve that were decided (approved, denied, expired)."""
    qs = _visible(user=user).filter(
        Q(reason_code__in=("approved", "approval_denied", "approval_expired"))
    )
    return list(qs.order_by("-updated_at", "-pk")[:limit])


def approval_get(*, user, pk: int) -> Booking:
    """A booking ``user`` may decide on (whatever its status now); ``NotFound`` otherwise."""
    booking = _visible(user=user).filter(pk=pk).first()
    if booking is None:
        raise NotFound("booking", field="booking")
    return booking
