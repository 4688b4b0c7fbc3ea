"""The approvers' queue over the API: the requests waiting for the caller's decision, approve,
deny with a reason. The caller's own approvals, whatever tenant their token acts for; a
request they do not approve answers 404 like one that does not exist."""

from __future__ import annotations

from django.http import HttpRequest
from ninja import Query, Router

from booking.api_common import Id, Page, paginate, responses
from booking.approvals.schemas import ApprovalFilterIn, ApprovalOut, ApproveIn, DenyIn
from booking.approvals.selectors import approval_get, approvals_pending
from booking.approvals.services import approval_approve, approval_deny
from booking.bookings.schemas import BookingOut
from booking.tokens.auth import BOOK, READ

router = Router()


@router.get("/approvals", auth=READ, response=responses({200: Page[ApprovalOut]}, without=(409,)))
def approval_list(request: HttpRequest, filters: Query[ApprovalFilterIn]):
    """Requests waiting for your approval (resources you approve; your tenants' members' where
    their managers approve), soonest start first."""
    return paginate(approvals_pending(user=request.auth.user, resource=filters.resource), filters)


@router.post("/approvals/{booking_id}/approve", auth=BOOK, response=responses({200: BookingOut}))
def approval_approve_view(request: HttpRequest, booking_id: Id, payload: ApproveIn | None = None):
    """Approve a waiting request: it becomes ``confirmed`` on the slot it held. 409
    ``not_pending`` once decided or cancelled, ``approval_lapsed`` after its start."""
    user = request.auth.user
    approval_approve(user=user, booking_id=booking_id, note=payload.note if payload else "")
    return approval_get(user=user, pk=booking_id)


@router.post("/approvals/{booking_id}/deny", auth=BOOK, response=responses({200: BookingOut}))
def approval_deny_view(request: HttpRequest, booking_id: Id, payload: DenyIn):
    """Deny a waiting request with a ``reason`` (422 ``reason_required`` without one): it
    becomes ``refused`` with ``reason_code`` ``approval_denied``; its slot is freed."""
    user = request.auth.user
    approval_deny(user=user, booking_id=booking_id, reason=payload.reason)
    return approval_get(user=user, pk=booking_id)
