"""What happens to a member's bookings when their manager removes them from the tenant.

The rule (stated on the members page, in the confirmation and in the README): every booking
of theirs in that tenant that has not started — confirmed bookings, round requests, waitlisted
and refused requests — is cancelled with "the member left the tenant" as its reason; they get
the cancellation e-mail in their own language, and the freed time of a confirmed booking goes
back to the calendar and to the round's waitlist (``bookings.hooks.booking_cancelled``). A
booking already running is left to end as booked. Their past bookings stay for usage and
billing.
"""

from __future__ import annotations

from django.db import transaction
from django.utils.translation import gettext as _

from booking.bookings.hooks import booking_cancelled
from booking.bookings.models import Booking, BookingStatus
from booking.bookings.notifications import notify_bookings
from booking.bookings.reasons import register_reason_renderer
from booking.bookings.services import booking_transition
from booking.tenancy.hooks import on_member_leaving

MEMBER_REMOVED_REASON = "member_removed"

_NOT_STARTED = (
    BookingStatus.CONFIRMED,
    BookingStatus.REQUESTED,
    BookingStatus.WAITLISTED,
    BookingStatus.REFUSED,
)


def _reason(_booking=None) -> str:
    return _("The booking was cancelled because its owner left the tenant.")


def member_bookings_release(*, user_id: int, tenant_id: int, actor, now) -> int:
    """Cancel the leaving member's bookings in the tenant that start after ``now`` (the
    module's rule). Runs inside the removal's transaction; e-mails and the waitlist follow once
    it commits. Returns how many were cancelled."""
    bookings = list(
        Booking.objects.select_for_update()
        .filter(user_id=user_id, tenant_id=tenant_id, status__in=_NOT_STARTED, start__gt=now)
        .order_by("start", "pk")
    )
    freed = []
    for booking in bookings:
        was_holding = booking.status == BookingStatus.CONFIRMED
        booking_transition(
            booking=booking,
            to_status=BookingStatus.CANCELLED,
            actor=actor,
            note="member removed from the tenant",
            reason_code=MEMBER_REMOVED_REASON,
            reason_text=_reason(),
        )
        freed.append((booking.pk, booking.round_id, was_holding))
    if freed:

        def after() -> None:
            notify_bookings((pk, "cancelled") for pk, _round, _holding in freed)
            for pk, round_id, holding in freed:
                booking_cancelled(booking_id=pk, round_id=round_id, was_holding=holding)

        transaction.on_commit(after)
    return len(freed)


def register() -> None:
    on_member_leaving(member_bookings_release)
    register_reason_renderer([MEMBER_REMOVED_REASON], _reason)
