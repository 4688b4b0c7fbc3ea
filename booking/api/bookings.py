"""Bookings and round requests of the acting tenant: create, list, read, cancel.

Endpoints only turn input into objects and call the booking and rounds services, which hold
every rule; a token sees only bookings of its own tenant.
"""

from __future__ import annotations

import json

from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.utils.translation import gettext as _
from ninja import Query, Router
from ninja.responses import NinjaJSONEncoder

from booking import selectors
from booking.api.auth import BOOK, READ, Caller
from booking.api.errors import park_error_body
from booking.api.schemas import (
    BookingFilterIn,
    BookingIn,
    BookingOut,
    Id,
    IdempotencyKey,
    Page,
    as_json,
    paginate,
    responses,
)
from booking.errors import NotFound, ParkError
from booking.models import AllocationRound, Booking
from booking.services.bookings import booking_cancel, booking_create_instant
from booking.services.idempotency import Answer, idempotent_call, request_fingerprint
from booking.services.rounds import round_request_create
from resources.models import BookingMode, Recipe, Resource, ResourcePool

router = Router()


def _booking_for(caller: Caller, pk: int) -> Booking:
    # The selector answers what the user may see; a token also narrows it to its tenant.
    booking = selectors.booking_get(user=caller.user, pk=pk)
    if booking.tenant_id != caller.tenant.pk:
        raise NotFound(_("booking"))
    return booking


def _unknown(field: str, what: str) -> ParkError:
    return ParkError(
        f"unknown_{field}",
        _("%(field)s: no such %(what)s.") % {"field": field, "what": what},
        field=field,
        status=422,
    )


def _resource(slug: str) -> Resource:
    try:
        return selectors.resource_get(slug=slug)
    except NotFound:
        raise _unknown("resource", _("resource")) from None


def _recipe(resource: Resource | None, code: str | None) -> Recipe | None:
    if code is None:
        return None
    recipe = Recipe.objects.filter(line=resource, code=code).first() if resource else None
    if recipe is None:
        raise _unknown("recipe", _("recipe of this line"))
    return recipe


INSTANT_FIELDS = ("start", "end")
ROUND_FIELDS = (
    "earliest_start",
    "latest_end",
    "duration_minutes",
    "round",
    "priority",
    "follows",
    "max_gap_minutes",
)


def _create(caller: Caller, data: BookingIn) -> Booking:
    if (data.resource is None) == (data.pool is None):
        raise ParkError(
            "resource_or_pool",
            _("resource: give either a resource or a pool, not both or neither."),
            field="resource",
            status=422,
        )
    resource = _resource(data.resource) if data.resource else None
    instant = resource is not None and resource.booking_mode == BookingMode.INSTANT
    # Fields of the other way to book would be silently ignored; say so instead.
    misplaced = ROUND_FIELDS if instant else INSTANT_FIELDS
    for field in misplaced:
        if field in data.model_fields_set and getattr(data, field) not in (None, 0):
            raise ParkError(
                "field_not_applicable",
                _("%(field)s: only for %(kind)s.")
                % {
                    "field": field,
                    "kind": _("round requests") if instant else _("instant bookings"),
                },
                field=field,
                status=422,
            )
    if instant:
        return booking_create_instant(
            user=caller.user,
            tenant=caller.tenant,
            resource=resource,
            start=data.start,
            end=data.end,
            units=data.units,
            title=data.title,
            recipe=_recipe(resource, data.recipe),
        )
    # A round-booked resource or a pool: a request that an allocation round plans.
    pool = None
    if data.pool:
        pool = ResourcePool.objects.filter(slug=data.pool).first()
        if pool is None:
            raise _unknown("pool", _("pool"))
    allocation_round = None
    if data.round is not None:
        allocation_round = AllocationRound.objects.filter(pk=data.round).first()
        if allocation_round is None:
            raise _unknown("round", _("allocation round"))
    follows = None
    if data.follows is not None:
        try:
            follows = _booking_for(caller, data.follows)
        except NotFound:
            raise _unknown("follows", _("request")) from None
    return round_request_create(
        user=caller.user,
        tenant=caller.tenant,
        resource=resource,
        pool=pool,
        round=allocation_round,
        title=data.title,
        units=data.units,
        recipe=data.recipe,
        earliest_start=data.earliest_start,
        latest_end=data.latest_end,
        duration_minutes=data.duration_minutes,
        priority=data.priority,
        follows=follows,
        max_gap_minutes=data.max_gap_minutes,
    )


def answer_response(answer: Answer) -> HttpResponse:
    """The stored (or fresh) answer as sent the first time; its body is already JSON-ready."""
    response = HttpResponse(
        json.dumps(answer.body, cls=NinjaJSONEncoder),
        status=answer.status,
        content_type="application/json; charset=utf-8",
    )
    if answer.replayed:
        response["Idempotent-Replayed"] = "true"
    return response


@router.post("/bookings", auth=BOOK, response=responses({201: BookingOut}))
def booking_create(
    request: HttpRequest,
    payload: BookingIn,
    idempotency_key: IdempotencyKey = None,
):
    """Book: an instant resource is confirmed at once (201, status ``confirmed``); a
    round-booked resource or a pool becomes a round request (201, status ``requested``).
    A refusal lists every broken rule in ``details``."""
    caller: Caller = request.auth

    def work() -> Answer:
        booking = _create(caller, payload)
        booking = selectors.booking_get(user=caller.user, pk=booking.pk)
        return Answer(201, as_json(BookingOut, booking))

    answer = idempotent_call(
        user=caller.user,
        key=idempotency_key,
        fingerprint=request_fingerprint(
            method="POST", path="/bookings", payload=payload.model_dump(mode="json")
        ),
        work=work,
        on_error=lambda exc: Answer(exc.status, park_error_body(exc)),
    )
    return answer_response(answer)


def _filtered(caller: Caller, filters: BookingFilterIn) -> QuerySet:
    if filters.whole_tenant:
        qs = selectors.bookings_for_tenant(
            user=caller.user, tenant=caller.tenant, statuses=filters.status
        )
    else:
        qs = selectors.bookings_for_user(user=caller.user, statuses=filters.status).filter(
            tenant=caller.tenant
        )
    if filters.resource:
        qs = qs.filter(resource__slug=filters.resource)
    if filters.round:
        qs = qs.filter(round_id=filters.round)
    return qs


@router.get("/bookings", auth=READ, response=responses({200: Page[BookingOut]}, without=(409,)))
def booking_list(request: HttpRequest, filters: Query[BookingFilterIn]):
    """Your bookings and round requests in the acting tenant (managers: ``whole_tenant``),
    latest start first, then newest; the order is stable across pages."""
    return paginate(_filtered(request.auth, filters), filters)


@router.get(
    "/bookings/{booking_id}", auth=READ, response=responses({200: BookingOut}, without=(409,))
)
def booking_detail(request: HttpRequest, booking_id: Id):
    """One booking or round request, with the planner's reason when it was moved or refused."""
    return _booking_for(request.auth, booking_id)


@router.post("/bookings/{booking_id}/cancel", auth=BOOK, response=responses({200: BookingOut}))
def booking_cancel_view(request: HttpRequest, booking_id: Id):
    """Cancel a booking or round request (its owner or a manager; not once started)."""
    caller: Caller = request.auth
    booking = _booking_for(caller, booking_id)
    booking_cancel(user=caller.user, booking=booking)
    return selectors.booking_get(user=caller.user, pk=booking.pk)
