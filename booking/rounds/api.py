"""Allocation rounds and their outcomes for the acting tenant, with the planner's reasons."""

from __future__ import annotations

from django.http import HttpRequest
from django.utils.translation import gettext as _
from ninja import Query, Router

from booking.api_common import Id, Page, paginate, responses
from booking.bookings.api import _filtered
from booking.bookings.schemas import BookingFilterIn, BookingOut
from booking.errors import NotFound
from booking.rounds.models import AllocationRound
from booking.rounds.schemas import RoundFilterIn, RoundOut, RoundOutcomeFilterIn
from booking.tokens.auth import READ

router = Router(auth=READ)


def _round(pk: int) -> AllocationRound:
    # Rounds are park-wide: every member may see a round and its own requests in it.
    found = AllocationRound.objects.filter(pk=pk).first()
    if found is None:
        raise NotFound(_("round"))
    return found


@router.get("/rounds", response=responses({200: Page[RoundOut]}, without=(409,)))
def round_list(request: HttpRequest, filters: Query[RoundFilterIn]):
    """Allocation rounds, latest period first."""
    qs = AllocationRound.objects.order_by("-period_start", "-id")
    if filters.status:
        qs = qs.filter(status__in=filters.status)
    return paginate(qs, filters)


@router.get("/rounds/{round_id}", response=responses({200: RoundOut}, without=(409,)))
def round_detail(request: HttpRequest, round_id: Id):
    """One allocation round."""
    return _round(round_id)


@router.get(
    "/rounds/{round_id}/requests",
    response=responses({200: Page[BookingOut]}, without=(409,)),
)
def round_outcomes(request: HttpRequest, round_id: Id, filters: Query[RoundOutcomeFilterIn]):
    """Your requests in a round (managers: the tenant's) with their status and, once the round
    is published, the planner's reason code and text for every request moved or refused."""
    found = _round(round_id)
    booking_filters = BookingFilterIn(
        limit=filters.limit,
        offset=filters.offset,
        round=found.pk,
        whole_tenant=filters.whole_tenant,
    )
    return paginate(_filtered(request.auth, booking_filters), filters)
