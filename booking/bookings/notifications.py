"""E-mail to tenant members about their bookings."""

from __future__ import annotations

from django.utils import translation

from booking.mail import send_park_mail

# Booking events with a template each: templates/email/booking_<event>[_subject].txt
BOOKING_EVENTS = (
    "confirmed",
    "refused",
    "moved",
    "cancelled",
    "waitlisted",
    "requested",
    "promoted",
)


def notify_booking(
    *, booking, event: str, language: str | None = None, extra: dict | None = None
) -> int:
    """Tell the booking's owner that it was confirmed, refused, moved, cancelled, waitlisted,
    requested (a round request received) or promoted (from the waitlist).

    The planner's reason (``booking.reasons.reason_for``) is included when there is one; ``extra`` adds context
    for the template (e.g. ``{"old_start": …, "old_end": …}`` for a move).
    """
    from booking.bookings.reasons import reason_for

    if event not in BOOKING_EVENTS:
        raise ValueError(f"unknown booking event {event!r}")
    language = language or translation.get_language()
    with translation.override(language):
        # The planner's reason, rendered in the mail's language from its code and figures.
        reason = reason_for(booking)
    return send_park_mail(
        to=[booking.user.email],
        template=f"booking_{event}",
        context={"booking": booking, "user": booking.user, "reason": reason, **(extra or {})},
        language=language,
    )
