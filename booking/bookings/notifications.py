"""Telling members about their bookings: the e-mails are queued, written and sent by the worker.

Call these once the change has committed (``transaction.on_commit``) so nobody is told about a
booking that was rolled back; ``booking.bookings.mails`` writes each in the recipient's language.
"""

from __future__ import annotations

from collections.abc import Iterable

from booking.bookings.mails import BOOKING_EVENTS
from booking.bookings.tasks import approval_request_mails_task, booking_mails_task


def notify_bookings(items: Iterable[tuple[int, str]]) -> None:
    """Queue one task for the e-mails of ``(booking id, event)`` pairs; a booking now waiting
    for approval also tells its approvers (one more task)."""
    items = [(int(pk), str(event)) for pk, event in items]
    unknown = {event for _pk, event in items} - set(BOOKING_EVENTS)
    if unknown:
        raise ValueError(f"unknown booking events {sorted(unknown)}")
    if items:
        booking_mails_task(items)
    waiting = [pk for pk, event in items if event == "pending_approval"]
    if waiting:
        approval_request_mails_task(waiting)


def notify_booking(*, booking, event: str) -> None:
    """Queue the e-mail telling ``booking``'s owner about ``event``."""
    notify_bookings([(booking.pk, event)])
