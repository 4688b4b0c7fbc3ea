"""The e-mails about bookings, written in the recipient's language (run in the worker)."""

from __future__ import annotations

from django.utils import translation

from booking.bookings.approval import approvers_of
from booking.bookings.models import Booking, BookingStatus
from booking.bookings.reasons import reason_for
from booking.mail import send_park_mail
from booking.tenancy.selectors import language_of

# Booking events with a template each: templates/email/booking_<event>[_subject].txt
BOOKING_EVENTS = (
    "confirmed",
    "refused",
    "moved",
    "cancelled",
    "waitlisted",
    "requested",
    "promoted",
    "pending_approval",
    "approved",
    "denied",
)


def booking_mail_send(*, booking_id: int, event: str) -> int:
    """Tell a booking's owner that it was confirmed, refused, moved, cancelled, waitlisted,
    requested (a round request received), promoted (from the waitlist), is waiting for approval,
    approved or denied (or expired unapproved: ``denied`` with its reason), in the language they
    last used the site in; the planner's reason is rendered in it from its code and figures.
    Returns the number of messages sent (0 for a booking gone meanwhile)."""
    if event not in BOOKING_EVENTS:
        raise ValueError(f"unknown booking event {event!r}")
    booking = (
        Booking.objects.select_related("user", "tenant", "resource", "pool", "round")
        .defer("round__plan")
        .filter(pk=booking_id)
        .first()
    )
    if booking is None:
        return 0
    language = language_of(user_id=booking.user_id)
    with translation.override(language):
        reason = reason_for(booking)
    return send_park_mail(
        to=[booking.user.email],
        template=f"booking_{event}",
        context={"booking": booking, "user": booking.user, "reason": reason},
        language=language,
    )


def approval_request_mail_send(*, booking_id: int) -> int:
    """Tell each approver of a booking waiting for approval that it waits in their queue, each
    in their own language. Returns the number of messages sent (0 once it is decided)."""
    booking = (
        Booking.objects.select_related("user", "tenant", "resource", "recipe")
        .filter(pk=booking_id, status=BookingStatus.PENDING_APPROVAL)
        .first()
    )
    if booking is None:
        return 0
    sent = 0
    for approver in approvers_of(booking=booking):
        sent += send_park_mail(
            to=[approver.email],
            template="approval_requested",
            context={"booking": booking, "user": approver, "reason": ""},
            language=language_of(user_id=approver.pk),
        )
    return sent
