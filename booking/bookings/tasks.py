"""Background work of bookings: the e-mails (never sent inside a web request)."""

from __future__ import annotations

from huey.contrib.djhuey import db_task

from booking.bookings.mails import approval_request_mail_send, booking_mail_send


@db_task()
def booking_mails_task(items: list[tuple[int, str]]) -> int:
    """Send the e-mail of each ``(booking id, event)``; returns how many went out."""
    return sum(booking_mail_send(booking_id=pk, event=event) for pk, event in items)


@db_task()
def approval_request_mails_task(booking_ids: list[int]) -> int:
    """Tell the approvers of each booking that it waits for them; returns how many went out."""
    return sum(approval_request_mail_send(booking_id=pk) for pk in booking_ids)
