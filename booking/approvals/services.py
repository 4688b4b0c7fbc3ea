"""Deciding on bookings that wait for approval: approve, deny with a reason, expire unapproved.

Every decision goes through ``bookings.services.booking_transition`` (compare-and-set: of two
approvers deciding at once, one wins and the other is told it changed meanwhile) and so is
recorded as a ``BookingEvent`` with the approver, the time, the decision and the reason (the
audit, shown on the booking's history and in the admin). The requester is told by e-mail in
their own language once the decision commits. A denied or expired request frees its slot and
its quota hours at once; a round's granted request hands its time to the round's waitlist
(``bookings.hooks.booking_cancelled``, the path a cancellation takes).

The rule for a request nobody decides: it lapses at its start (``approvals_expire``, every
minute): REFUSED with ``approval_expired``, the slot freed, the requester told. An approval
after the start is refused (``approval_lapsed``).
"""

from __future__ import annotations

import datetime as dt

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from booking.approvals.selectors import approval_get
from booking.bookings.approval import APPROVAL_DENIED, APPROVAL_EXPIRED, APPROVED
from booking.bookings.hooks import booking_cancelled
from booking.bookings.models import Booking, BookingStatus
from booking.bookings.notifications import notify_booking, notify_bookings
from booking.bookings.services import booking_transition
from booking.errors import Conflict, ParkError
from booking.formats import when_text

REASON_MAX = 400


def _decidable(*, user, booking_id: int, now: dt.datetime) -> Booking:
    booking = approval_get(user=user, pk=booking_id)
    if booking.status != BookingStatus.PENDING_APPROVAL:
        raise Conflict(
            "not_pending",
            _("This request is no longer waiting for approval: it is %(status)s."),
            params={"status": BookingStatus(booking.status).label},
            field="booking",
        )
    if booking.start is not None and booking.start <= now:
        raise Conflict(
            "approval_lapsed",
            _("It was to start at %(start)s; a request not decided before its start lapses."),
            params={"start": when_text(booking.start)},
            field="booking",
        )
    return booking


def _text(value: str | None, *, field: str, required: bool) -> str:
    text = " ".join((value or "").split())
    if required and not text:
        raise ParkError(
            "reason_required",
            _("Give the requester a reason for the refusal."),
            field=field,
            status=422,
        )
    if len(text) > REASON_MAX:
        raise ParkError(
            "reason_too_long",
            _("At most %(max)s characters."),
            params={"max": REASON_MAX},
            field=field,
            status=422,
        )
    return text


def approval_approve(
    *, user, booking_id: int, note: str = "", now: dt.datetime | None = None
) -> Booking:
    """Approve a request waiting for ``user``'s decision: it becomes CONFIRMED on the slot it
    held. In: the approver, the booking's id, an optional ``note`` for the requester. Out: the
    confirmed booking. Raises ``NotFound`` for a booking ``user`` does not approve,
    ``Conflict`` (``not_pending``, ``approval_lapsed``, ``status_changed``); nothing changes then.
    """
    now = now or timezone.now()
    note = _text(note, field="note", required=False)
    booking = _decidable(user=user, booking_id=booking_id, now=now)
    with transaction.atomic():
        booking = booking_transition(
            booking=booking,
            to_status=BookingStatus.CONFIRMED,
            actor=user,
            note=f"approved: {note}" if note else "approved",
            reason_code=APPROVED,
            reason_text=note,
        )
        transaction.on_commit(lambda: notify_booking(booking=booking, event="approved"))
    return booking


def _free(booking: Booking) -> None:
    # The slot was held while waiting: a round's waitlist may take it now.
    booking_cancelled(booking_id=booking.pk, round_id=booking.round_id, was_holding=True)


def approval_deny(
    *, user, booking_id: int, reason: str | None, now: dt.datetime | None = None
) -> Booking:
    """Deny a request waiting for ``user``'s decision, with a ``reason`` (required: the
    requester reads it). Out: the booking, REFUSED with ``approval_denied``; its slot and quota
    hours are free once this commits. Raises ``ParkError("reason_required")`` (422, field
    ``reason``) without a reason, and what ``approval_approve`` raises; nothing changes then.
    """
    now = now or timezone.now()
    reason = _text(reason, field="reason", required=True)
    booking = _decidable(user=user, booking_id=booking_id, now=now)
    with transaction.atomic():
        booking = booking_transition(
            booking=booking,
            to_status=BookingStatus.REFUSED,
            actor=user,
            note=f"denied: {reason}",
            reason_code=APPROVAL_DENIED,
            reason_text=reason,
        )
        transaction.on_commit(lambda: notify_booking(booking=booking, event="denied"))
        transaction.on_commit(lambda: _free(booking))
    return booking


def approvals_expire(*, now: dt.datetime | None = None) -> list[int]:
    """Refuse every request still waiting for approval at its start (``approval_expired``),
    freeing its slot, and tell each requester. Out: the ids that lapsed. A request decided
    meanwhile is left as its approver left it."""
    now = now or timezone.now()
    lapsed = []
    due = Booking.objects.filter(status=BookingStatus.PENDING_APPROVAL, start__lte=now)
    for booking in due.order_by("start", "pk"):
        try:
            with transaction.atomic():
                booking = booking_transition(
                    booking=booking,
                    to_status=BookingStatus.REFUSED,
                    note="approval expired at the start",
                    reason_code=APPROVAL_EXPIRED,
                    reason_text=_("Nobody approved it before its start, so its time was freed."),
                )
                transaction.on_commit(lambda b=booking: _free(b))
        except Conflict:
            continue  # decided or cancelled meanwhile
        lapsed.append(booking.pk)
    if lapsed:
        transaction.on_commit(lambda: notify_bookings((pk, "denied") for pk in lapsed))
    return lapsed
