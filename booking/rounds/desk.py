"""What rounds plugs into bookings at start-up (see ``booking.bookings.hooks``)."""

from __future__ import annotations

from booking.bookings.models import Booking
from booking.rounds.models import AllocationRound
from booking.rounds.request_changes import round_request_change
from booking.rounds.requests import round_request_create
from booking.rounds.selectors import open_rounds
from booking.rounds.tasks import waitlist_replan_task


class RoundDesk:
    """Round requests for the booking pages and ``POST /bookings``."""

    def open_round(self) -> AllocationRound | None:
        return open_rounds().first()

    def round_get(self, pk: int) -> AllocationRound | None:
        return AllocationRound.objects.filter(pk=pk).first()

    def request_create(self, **kwargs) -> Booking:
        return round_request_create(**kwargs)

    def request_change(self, **kwargs) -> Booking:
        return round_request_change(**kwargs)


def replan_after_cancel(*, booking_id: int, round_id: int | None, was_holding: bool) -> None:
    """A granted booking of a round was cancelled: queue the re-plan of the round's waitlist."""
    if round_id is None or not was_holding:
        return
    # Called once the cancellation has committed; the re-plan runs in the worker.
    waitlist_replan_task(round_id, booking_id)
