"""When a booking needs approval, who approves it, and how its approval reasons read.

The rule (``Resource.approval``): ``always`` — every booking of the resource waits for approval;
``new_recipe`` — a line run waits when its tenant has never had that recipe confirmed (approved,
or booked before the rule) on that line; ``none`` — confirmed at once. A waiting booking is
``PENDING_APPROVAL``: it holds its slot and its quota hours. The approvers are the resource's
responsible staff (``Resource.approvers``) and, where the resource says so, the booking tenant's
managers (the PI). Deciding is ``booking.approvals``' work; this module only states the rule,
because a booking (``services.booking_create_instant``) and a round's grant
(``rounds.outcomes``) are stored with the status it gives.
"""

from __future__ import annotations

from django.contrib.auth import get_user_model
from django.db.models import Q
from django.utils.translation import gettext as _

from booking.bookings.models import Booking, BookingStatus
from booking.bookings.reasons import register_reason_renderer
from booking.tenancy.models import Membership
from resources.models import ApprovalPolicy, Recipe, Resource

APPROVAL_PENDING = "approval_pending"
APPROVAL_DENIED = "approval_denied"
APPROVAL_EXPIRED = "approval_expired"
APPROVED = "approved"
APPROVAL_CODES = (APPROVAL_PENDING, APPROVAL_DENIED, APPROVAL_EXPIRED, APPROVED)

# A recipe counts as known to a tenant on a line once a run of it was confirmed there.
_KNOWN_RECIPE_STATUSES = (BookingStatus.CONFIRMED, BookingStatus.IN_USE, BookingStatus.COMPLETED)


def approval_needed(*, resource: Resource, tenant, recipe: Recipe | None) -> bool:
    """Whether a booking of ``resource`` by ``tenant`` (with the line ``recipe``) must wait for
    approval before it is confirmed."""
    if resource.approval == ApprovalPolicy.ALWAYS:
        return True
    if resource.approval == ApprovalPolicy.NEW_RECIPE and recipe is not None:
        return not Booking.objects.filter(
            tenant=tenant,
            resource=resource,
            recipe=recipe,
            status__in=_KNOWN_RECIPE_STATUSES,
        ).exists()
    return False


def approvers_q(*, user) -> Q:
    """The bookings (rows of ``Booking``) ``user`` may approve: those of the resources they are
    an approver of, and those of the tenants they manage on resources whose tenant managers
    approve. Nobody else's — an operator approves only where named an approver."""
    managed = Membership.objects.filter(user=user, role=Membership.Role.MANAGER).values("tenant_id")
    return Q(resource__approvers=user) | Q(
        resource__approval_by_tenant_manager=True, tenant_id__in=managed
    )


def approvers_of(*, booking: Booking) -> list:
    """The users who may decide on ``booking``: the resource's approvers, then (where the
    resource lets them) the managers of the booking's tenant."""
    users = list(
        get_user_model()
        .objects.filter(approves_resources=booking.resource_id)
        .order_by("last_name", "first_name", "username")
    )
    if booking.resource_id and booking.resource.approval_by_tenant_manager:
        managers = get_user_model().objects.filter(
            memberships__tenant_id=booking.tenant_id,
            memberships__role=Membership.Role.MANAGER,
        )
        users += [u for u in managers.order_by("username") if u not in users]
    return users


def approver_names(*, booking: Booking) -> str:
    """Who decides on ``booking``, for the requester: the resource's approvers by name, and
    "the managers of <tenant>" where they may approve."""
    names = [
        u.get_full_name() or u.get_username()
        for u in get_user_model()
        .objects.filter(approves_resources=booking.resource_id)
        .order_by("last_name", "first_name", "username")
    ]
    if booking.resource_id and booking.resource.approval_by_tenant_manager:
        names.append(_("the managers of %(tenant)s") % {"tenant": booking.tenant.name})
    return ", ".join(names) or _("the resource's staff")


def _reason(booking: Booking) -> str:
    code = booking.reason_code
    if code == APPROVAL_PENDING:
        return _("Waiting for approval by %(approvers)s.") % {
            "approvers": approver_names(booking=booking)
        }
    if code == APPROVAL_DENIED:
        # The approver's own words, as they wrote them.
        return _("Not approved: %(reason)s") % {"reason": booking.reason_text}
    if code == APPROVAL_EXPIRED:
        return _("Nobody approved it before its start, so its time was freed.")
    if booking.reason_text:
        return _("Approved: %(note)s") % {"note": booking.reason_text}
    return _("Approved.")


def register() -> None:
    """Render the approval reasons in the reader's language (``BookingsConfig.ready``)."""
    register_reason_renderer(
        [APPROVAL_PENDING, APPROVAL_DENIED, APPROVAL_EXPIRED, APPROVED], _reason
    )
