"""The catalogue and free slots (park-wide reads), and bookings and round requests of the acting
tenant: create, list, read, cancel.

Endpoints only turn input into objects and call the booking services, which hold every rule;
a token sees only bookings of its own tenant.
"""

from __future__ import annotations

import datetime as dt

from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils.translation import gettext as _
from ninja import Query, Router

from booking.api_common import (
    Id,
    IdempotencyKey,
    Page,
    PageIn,
    Slug,
    as_json,
    paginate,
    park_error_body,
    responses,
)
from booking.bookings.calendar import availability
from booking.bookings.calendar import pool_availability as pool_free_slots
from booking.bookings.changes import booking_or_request_change
from booking.bookings.hooks import project_desk, round_desk
from booking.bookings.models import Booking
from booking.bookings.recurrence import Recurrence
from booking.bookings.schemas import (
    AvailabilityOut,
    BookingChangeIn,
    BookingFilterIn,
    BookingIn,
    BookingOut,
    CatalogueFilterIn,
    PoolAvailabilityOut,
    PoolOut,
    ResourceOut,
    SeriesOut,
    WindowIn,
)
from booking.bookings.selectors import (
    booking_get,
    bookings_for_tenant,
    bookings_for_user,
    catalogue,
    resource_get,
    resource_get_brief,
)
from booking.bookings.series import booking_cancel_following, booking_series_create, series_get
from booking.bookings.services import booking_cancel, booking_create_instant
from booking.errors import NotFound, ParkError
from booking.tokens.auth import BOOK, READ, Caller
from booking.tokens.idempotency import Answer, answer_response, idempotent_call, request_fingerprint
from resources.models import BookingMode, Recipe, Resource, ResourcePool

router = Router()


def _booking_for(caller: Caller, pk: int) -> Booking:
    # The selector answers what the user may see; a token also narrows it to its tenant.
    booking = booking_get(user=caller.user, pk=pk)
    if booking.tenant_id != caller.tenant.pk:
        raise NotFound(_("booking"))
    return booking


def _unknown(field: str, what: str) -> ParkError:
    return ParkError(
        f"unknown_{field}",
        _("No such %(what)s."),
        params={"field": field, "what": what},
        field=field,
        status=422,
    )


def _resource(slug: str) -> Resource:
    try:
        return resource_get(slug=slug)
    except NotFound:
        raise _unknown("resource", _("resource")) from None


def _recipe(resource: Resource | None, code: str | None) -> Recipe | None:
    if code is None:
        return None
    recipe = Recipe.objects.filter(line=resource, code=code).first() if resource else None
    if recipe is None:
        raise _unknown("recipe", _("recipe of this line"))
    return recipe


INSTANT_FIELDS = ("start", "end", "recurrence")


ROUND_FIELDS = (
    "earliest_start",
    "latest_end",
    "duration_minutes",
    "round",
    "priority",
    "follows",
    "max_gap_minutes",
    "cpus",
    "memory_gb",
)


def _create(caller: Caller, data: BookingIn) -> Booking:
    if (data.resource is None) == (data.pool is None):
        raise ParkError(
            "resource_or_pool",
            _("Give either a resource or a pool, not both or neither."),
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
                _("Only for %(kind)s."),
                params={
                    "field": field,
                    "kind": _("round requests") if instant else _("instant bookings"),
                },
                field=field,
                status=422,
            )
    if instant and data.recurrence is not None:
        rec = data.recurrence
        result = booking_series_create(
            user=caller.user,
            tenant=caller.tenant,
            resource=resource,
            start=data.start,
            end=data.end,
            units=data.units,
            title=data.title,
            recipe=_recipe(resource, data.recipe),
            recurrence=Recurrence(
                freq=rec.freq,
                interval=rec.interval,
                count=rec.count,
                until=rec.until,
                by_day=tuple(rec.by_day or ()),
            ),
            skip_conflicts=rec.skip_conflicts,
        )
        return result.booked[0]
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
        allocation_round = round_desk().round_get(data.round)
        if allocation_round is None:
            raise _unknown("round", _("allocation round"))
    follows = None
    if data.follows is not None:
        try:
            follows = _booking_for(caller, data.follows)
        except NotFound:
            raise _unknown("follows", _("request")) from None
    return round_desk().request_create(
        user=caller.user,
        tenant=caller.tenant,
        resource=resource,
        pool=pool,
        allocation_round=allocation_round,
        title=data.title,
        units=data.units,
        cpus=data.cpus,
        memory_gb=data.memory_gb,
        recipe=data.recipe,
        earliest_start=data.earliest_start,
        latest_end=data.latest_end,
        duration_minutes=data.duration_minutes,
        priority=data.priority,
        follows=follows,
        max_gap_minutes=data.max_gap_minutes,
    )


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
        project = project_desk().check(tenant=caller.tenant, project=payload.project)
        booking = _create(caller, payload)
        # A recurring booking charges every occurrence it booked to the same project.
        occurrences = (
            Booking.objects.filter(series_id=booking.series_id) if booking.series_id else [booking]
        )
        for occurrence in occurrences:
            project_desk().attach(project=project, booking=occurrence)
        booking = booking_get(user=caller.user, pk=booking.pk)
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
        qs = bookings_for_tenant(user=caller.user, tenant=caller.tenant, statuses=filters.status)
    else:
        qs = bookings_for_user(user=caller.user, statuses=filters.status).filter(
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


@router.patch("/bookings/{booking_id}", auth=BOOK, response=responses({200: BookingOut}))
def booking_change_view(request: HttpRequest, booking_id: Id, payload: BookingChangeIn):
    """Move or shorten a booking (same rules as booking it; the quota counts the difference),
    or end a running one earlier; a booking a round placed only until the round's cut-off. A
    round request gets a new window or duration (``earliest_start``, ``latest_end``,
    ``duration_minutes``) before its round's cut-off."""
    caller: Caller = request.auth
    booking = _booking_for(caller, booking_id)
    booking_or_request_change(
        user=caller.user,
        booking=booking,
        start=payload.start,
        end=payload.end,
        earliest_start=payload.earliest_start,
        latest_end=payload.latest_end,
        duration_minutes=payload.duration_minutes,
    )
    return booking_get(user=caller.user, pk=booking.pk)


@router.post("/bookings/{booking_id}/cancel", auth=BOOK, response=responses({200: BookingOut}))
def booking_cancel_view(request: HttpRequest, booking_id: Id):
    """Cancel a booking or round request (its owner or a manager; not once started)."""
    caller: Caller = request.auth
    booking = _booking_for(caller, booking_id)
    booking_cancel(user=caller.user, booking=booking)
    return booking_get(user=caller.user, pk=booking.pk)


@router.post(
    "/bookings/{booking_id}/cancel-following", auth=BOOK, response=responses({200: SeriesOut})
)
def booking_cancel_following_view(request: HttpRequest, booking_id: Id):
    """Cancel an occurrence of a recurring series and every later one not yet started; the
    answer is the series with each occurrence's status."""
    caller: Caller = request.auth
    booking = _booking_for(caller, booking_id)
    booking_cancel_following(user=caller.user, booking=booking)
    return series_get(user=caller.user, pk=booking.series_id)


@router.get("/series/{series_id}", auth=READ, response=responses({200: SeriesOut}, without=(409,)))
def series_detail(request: HttpRequest, series_id: Id):
    """A recurring booking: its rule, its occurrences and those skipped (with the reasons)."""
    caller: Caller = request.auth
    series = series_get(user=caller.user, pk=series_id)
    if series.tenant_id != caller.tenant.pk:
        raise NotFound(_("series"))
    return series


catalogue_router = Router(auth=READ)


MAX_WINDOW = dt.timedelta(days=31)


def _check_window(start: dt.datetime, end: dt.datetime, *, start_field: str, end_field: str):
    if end <= start:
        raise ParkError(
            "window_invalid",
            _("%(end)s: must be after %(start)s."),
            params={"end": end_field, "start": start_field},
            field=end_field,
            status=422,
        )
    if end - start > MAX_WINDOW:
        raise ParkError(
            "window_too_long",
            _("%(end)s: the window may span at most 31 days."),
            params={"end": end_field},
            field=end_field,
            status=422,
        )


def _with_kind_rows(qs):
    # The output names each kind's own attributes; load them with the resources.
    return qs.select_related("line", "instrument", "location__parent").prefetch_related(
        "line__resource__recipes"
    )


@catalogue_router.get("/resources", response=responses({200: Page[ResourceOut]}, without=(409,)))
def resource_list(request: HttpRequest, filters: Query[CatalogueFilterIn]):
    """The bookable catalogue, ordered by kind and name, with filters."""
    if (filters.free_from is None) != (filters.free_to is None):
        field = "free_to" if filters.free_to is None else "free_from"
        raise ParkError(
            "window_incomplete",
            _("Give both free_from and free_to, or neither."),
            params={"field": field},
            field=field,
            status=422,
        )
    if filters.free_from is not None:
        _check_window(
            filters.free_from, filters.free_to, start_field="free_from", end_field="free_to"
        )
    qs = catalogue(
        user=request.auth.user,
        kind=filters.kind,
        location=filters.location,
        gpu_model=filters.gpu_model,
        free_from=filters.free_from,
        free_to=filters.free_to,
        trained_only=filters.trained_only,
    )
    return paginate(_with_kind_rows(qs).order_by("kind", "name", "id"), filters)


@catalogue_router.get("/resources/{slug}", response=responses({200: ResourceOut}, without=(409,)))
def resource_detail(request: HttpRequest, slug: Slug):
    """One resource with its kind's attributes and booking rules."""
    return resource_get(slug=slug)


@catalogue_router.get(
    "/resources/{slug}/availability",
    response=responses({200: AvailabilityOut}, without=(409,)),
)
def resource_availability(request: HttpRequest, slug: Slug, window: Query[WindowIn]):
    """Free intervals of a resource in [start, end) with room for ``units``: inside opening
    hours or shifts, outside maintenance. Booking rules (notice, length) apply when booking."""
    _check_window(window.start, window.end, start_field="start", end_field="end")
    resource = resource_get_brief(slug=slug)
    slots = availability(resource=resource, start=window.start, end=window.end, units=window.units)
    return {
        "resource": resource.slug,
        "start": window.start,
        "end": window.end,
        "units": window.units,
        "slots": slots,
    }


def _pool(slug: str) -> ResourcePool:
    # Pools are park-wide catalogue entries, like resources.
    pool = ResourcePool.objects.filter(slug=slug).prefetch_related("members").first()
    if pool is None:
        raise NotFound(_("pool"))
    return pool


@catalogue_router.get("/pools", response=responses({200: Page[PoolOut]}, without=(409,)))
def pool_list(request: HttpRequest, page: Query[PageIn]):
    """Groups of interchangeable resources ("any A100 node")."""
    qs = ResourcePool.objects.prefetch_related("members").order_by("kind", "name", "id")
    return paginate(qs, page)


@catalogue_router.get(
    "/pools/{slug}/availability",
    response=responses({200: PoolAvailabilityOut}, without=(409,)),
)
def pool_availability(request: HttpRequest, slug: Slug, window: Query[WindowIn]):
    """Free intervals of every active member of a pool."""
    _check_window(window.start, window.end, start_field="start", end_field="end")
    pool = _pool(slug)
    by_resource = pool_free_slots(pool=pool, start=window.start, end=window.end, units=window.units)
    slugs = {m.pk: m.slug for m in pool.members.all()}
    return {
        "pool": pool.slug,
        "start": window.start,
        "end": window.end,
        "units": window.units,
        "resources": [
            {
                "resource": slugs[pk],
                "start": window.start,
                "end": window.end,
                "units": window.units,
                "slots": slots,
            }
            for pk, slots in by_resource.items()
        ],
    }
