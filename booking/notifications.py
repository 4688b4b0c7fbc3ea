"""E-mail to tenant members about their bookings, through Django's mail framework.

Every message is rendered from ``templates/email/<name>_subject.txt`` and ``<name>.txt`` in the
language active when it is sent (callers may pass ``language``). Send after commit
(``transaction.on_commit``) so nobody is told about a booking that was rolled back.
"""

from __future__ import annotations

import logging

from django.conf import settings
from django.core.mail import send_mail
from django.template.loader import render_to_string
from django.utils import translation

logger = logging.getLogger(__name__)

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


def send_park_mail(
    *, to: list[str], template: str, context: dict, language: str | None = None
) -> int:
    """Render ``templates/email/<template>_subject.txt`` and ``<template>.txt`` and send them.

    Returns the number of messages sent (0 when there is no address). A failing mail server is
    logged, never raised: the booking is already stored and the page must not fail for it.
    """
    to = [address for address in to if address]
    if not to:
        return 0
    with translation.override(language or translation.get_language()):
        context = {"site_name": str(settings.SITE_NAME), **context}
        subject = " ".join(render_to_string(f"email/{template}_subject.txt", context).split())
        body = render_to_string(f"email/{template}.txt", context)
    try:
        return send_mail(subject, body, settings.DEFAULT_FROM_EMAIL, to)
    except Exception:  # noqa: BLE001 - mail trouble must not undo a stored booking
        logger.exception("could not send %s mail to %s", template, to)
        return 0


def notify_booking(
    *, booking, event: str, language: str | None = None, extra: dict | None = None
) -> int:
    """Tell the booking's owner that it was confirmed, refused, moved, cancelled, waitlisted,
    requested (a round request received) or promoted (from the waitlist).

    The planner's reason (``booking.reasons.reason_for``) is included when there is one; ``extra`` adds context
    for the template (e.g. ``{"old_start": …, "old_end": …}`` for a move).
    """
    from booking.reasons import reason_for

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
