"""What rounds plugs into bookings at start-up (see ``booking.bookings.hooks``)."""

from __future__ import annotations

from django.utils import timezone

from booking.bookings.models import Booking
from booking.rounds.models import AllocationRound
from booking.rounds.requests import round_request_create
from booking.rounds.waitlist import waitlist_on_cancel


class RoundDesk:
    """Round requests for the booking pages and ``POST /bookings``."""

    def open_round(self) -> AllocationRound | None:
        return (
            AllocationRound.objects.filter(
                status=AllocationRound.Status.OPEN, cutoff__gt=timezone.now()
            )
            .order_by("cutoff")
            .first()
        )

    def round_get(self, pk: int) -> AllocationRound | None:
        return AllocationRound.objects.filter(pk=pk).first()

    def request_create(self, **kwargs) -> Booking:
        return round_request_create(**kwargs)


def replan_after_cancel(*, booking_id: int, round_id: int | None, was_holding: bool) -> None:
    """A granted booking of a round was cancelled: offer its time to the round's waitlist."""
    if round_id is None or not was_holding:
        return
    booking = Booking.objects.filter(pk=booking_id).first()
    if booking is not None:
        waitlist_on_cancel(booking=booking)
