"""Input and output of the approvals endpoints."""

from __future__ import annotations

from ninja import Field

from booking.api_common import PageIn, Slug, StrictIn, Text
from booking.bookings.schemas import BookingOut


class ApprovalOut(BookingOut):
    """A request waiting for the caller's approval: the booking, and who asked for it."""

    requester_name: str = Field(description="The requester's full name (or user name).")
    tenant_name: str

    @staticmethod
    def resolve_requester_name(obj) -> str:
        return obj.user.get_full_name() or obj.user.get_username()

    @staticmethod
    def resolve_tenant_name(obj) -> str:
        return obj.tenant.name


class ApprovalFilterIn(PageIn):
    resource: Slug | None = Field(None, description="Only requests for this resource.")


class ApproveIn(StrictIn):
    note: Text = Field("", description="A note for the requester (optional, at most 400).")


class DenyIn(StrictIn):
    reason: Text = Field(
        "", description="Why it is denied (required, at most 400): the requester reads it."
    )
