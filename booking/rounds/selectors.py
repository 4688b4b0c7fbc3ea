"""Reads about allocation rounds for members and the API. Another tenant's request → NotFound."""

from __future__ import annotations

import datetime as dt

from django.db.models import QuerySet
from django.utils import timezone

from booking.bookings.models import Booking
from booking.errors import NotFound
from booking.rounds.models import AllocationRound
from booking.tenancy.access import visible_q


def open_rounds(*, now: dt.datetime | None = None) -> QuerySet[AllocationRound]:
    """Rounds that still take requests, soonest first."""
    now = now or timezone.now()
    return AllocationRound.objects.filter(
        status=AllocationRound.Status.OPEN, cutoff__gt=now
    ).order_by("period_start", "pk")


def round_requests_for_user(
    *, user, allocation_round: AllocationRound | None = None
) -> QuerySet[Booking]:
    """Round requests the user may see: their own, and all of the tenants they manage."""
    if not user.is_authenticated:
        return Booking.objects.none()
    qs = Booking.objects.filter(visible_q(user=user), round__isnull=False)
    if allocation_round is not None:
        qs = qs.filter(round=allocation_round)
    return qs.select_related("tenant", "user", "resource", "pool", "recipe", "round").order_by(
        "-created_at", "-pk"
    )


def round_request_get(*, user, pk) -> Booking:
    """One round request the user may see; anyone else's answers ``NotFound`` (404)."""
    try:
        pk = int(pk)
    except (TypeError, ValueError):
        raise NotFound("request", field="id") from None
    booking = round_requests_for_user(user=user).filter(pk=pk).first()
    if booking is None:
        raise NotFound("request", field="id")
    return booking
