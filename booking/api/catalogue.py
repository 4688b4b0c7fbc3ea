"""Catalogue and free slots: park-wide reads (every member sees every resource)."""

from __future__ import annotations

import datetime as dt

from django.http import HttpRequest
from django.utils.translation import gettext as _
from ninja import Query, Router

from booking import selectors
from booking.api.auth import READ
from booking.api.schemas import (
    AvailabilityOut,
    CatalogueFilterIn,
    Page,
    PageIn,
    PoolAvailabilityOut,
    PoolOut,
    ResourceOut,
    Slug,
    WindowIn,
    paginate,
    responses,
)
from booking.errors import NotFound, ParkError
from resources.models import ResourcePool

router = Router(auth=READ)

MAX_WINDOW = dt.timedelta(days=31)


def _check_window(start: dt.datetime, end: dt.datetime, *, start_field: str, end_field: str):
    if end <= start:
        raise ParkError(
            "window_invalid",
            _("%(end)s: must be after %(start)s.") % {"end": end_field, "start": start_field},
            field=end_field,
            status=422,
        )
    if end - start > MAX_WINDOW:
        raise ParkError(
            "window_too_long",
            _("%(end)s: the window may span at most 31 days.") % {"end": end_field},
            field=end_field,
            status=422,
        )


def _with_kind_rows(qs):
    # The output names each kind's own attributes; load them with the resources.
    return qs.select_related("line", "instrument", "location__parent").prefetch_related(
        "line__resource__recipes"
    )


@router.get("/resources", response=responses({200: Page[ResourceOut]}, without=(409,)))
def resource_list(request: HttpRequest, filters: Query[CatalogueFilterIn]):
    """The bookable catalogue, ordered by kind and name, with filters."""
    if (filters.free_from is None) != (filters.free_to is None):
        field = "free_to" if filters.free_to is None else "free_from"
        raise ParkError(
            "window_incomplete",
            _("%(field)s: give both free_from and free_to, or neither.") % {"field": field},
            field=field,
            status=422,
        )
    if filters.free_from is not None:
        _check_window(
            filters.free_from, filters.free_to, start_field="free_from", end_field="free_to"
        )
    qs = selectors.catalogue(
        user=request.auth.user,
        kind=filters.kind,
        location=filters.location,
        gpu_model=filters.gpu_model,
        free_from=filters.free_from,
        free_to=filters.free_to,
        trained_only=filters.trained_only,
    )
    return paginate(_with_kind_rows(qs).order_by("kind", "name", "id"), filters)


@router.get("/resources/{slug}", response=responses({200: ResourceOut}, without=(409,)))
def resource_detail(request: HttpRequest, slug: Slug):
    """One resource with its kind's attributes and booking rules."""
    return selectors.resource_get(slug=slug)


@router.get(
    "/resources/{slug}/availability",
    response=responses({200: AvailabilityOut}, without=(409,)),
)
def resource_availability(request: HttpRequest, slug: Slug, window: Query[WindowIn]):
    """Free intervals of a resource in [start, end) with room for ``units``: inside opening
    hours or shifts, outside maintenance. Booking rules (notice, length) apply when booking."""
    _check_window(window.start, window.end, start_field="start", end_field="end")
    resource = selectors.resource_get_brief(slug=slug)
    slots = selectors.availability(
        resource=resource, start=window.start, end=window.end, units=window.units
    )
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


@router.get("/pools", response=responses({200: Page[PoolOut]}, without=(409,)))
def pool_list(request: HttpRequest, page: Query[PageIn]):
    """Groups of interchangeable resources ("any A100 node")."""
    qs = ResourcePool.objects.prefetch_related("members").order_by("kind", "name", "id")
    return paginate(qs, page)


@router.get(
    "/pools/{slug}/availability",
    response=responses({200: PoolAvailabilityOut}, without=(409,)),
)
def pool_availability(request: HttpRequest, slug: Slug, window: Query[WindowIn]):
    """Free intervals of every active member of a pool."""
    _check_window(window.start, window.end, start_field="start", end_field="end")
    pool = _pool(slug)
    by_resource = selectors.pool_availability(
        pool=pool, start=window.start, end=window.end, units=window.units
    )
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
