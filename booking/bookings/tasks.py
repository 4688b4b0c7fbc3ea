"""Background work of bookings: the e-mails (never sent inside a web request)."""

from __future__ import annotations

from huey.contrib.djhuey import db_task

from booking.bookings.mails import booking_mail_send


@db_task()
def booking_mails_task(items: list[tuple[int, str]]) -> int:
    """Send the e-mail of each ``(booking id, event)``; returns how many went out."""
    return sum(booking_mail_send(booking_id=pk, event=event) for pk, event in items)
