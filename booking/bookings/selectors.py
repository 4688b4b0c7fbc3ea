"""Reads about bookings and the catalogue for the member UI and the API."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from django.db.models import (
    DurationField,
    Exists,
    ExpressionWrapper,
    F,
    OuterRef,
    Q,
    Subquery,
    Sum,
    Value,
)
from django.db.models.functions import Coalesce
from django.utils import timezone

from booking import sql
from booking.bookings.models import HOLDING_STATUSES, Booking
from booking.errors import NotFound
from booking.ids import plain_pk
from booking.tenancy.access import require_manager, visible_q
from booking.tenancy.models import Tenant
from booking.tenancy.usage import UsageQuery
from resources.availability import hours_purpose, open_intervals
from resources.models import GpuNode, MaintenanceWindow, Resource, TrainingRecord, WeeklyHours


def booking_duration_expr():
    return ExpressionWrapper(F("end") - F("start"), output_field=DurationField())


_BOOKING_RELATED = ("resource", "pool", "round", "tenant", "recipe", "user")


def bookings_for_user(*, user, statuses=None):
    """The user's own bookings and round requests, newest start first."""
    qs = Booking.objects.filter(user=user).select_related(*_BOOKING_RELATED).defer("round__plan")
    if statuses:
        qs = qs.filter(status__in=statuses)
    return qs.order_by(F("start").desc(nulls_first=True), "-created_at", "-id")


def bookings_for_tenant(*, user, tenant: Tenant, statuses=None):
    """All bookings of ``tenant``, for its managers (and operators); anyone else gets 404."""
    require_manager(user=user, tenant=tenant)
    qs = (
        Booking.objects.filter(tenant=tenant).select_related(*_BOOKING_RELATED).defer("round__plan")
    )
    if statuses:
        qs = qs.filter(status__in=statuses)
    return qs.order_by(F("start").desc(nulls_first=True), "-created_at", "-id")


def booking_get(*, user, pk) -> Booking:
    """One booking the user may see in full (own, or of a tenant they manage); else 404.

    A malformed or tampered id answers the same 404 as another tenant's booking."""
    q = Q(pk=plain_pk(pk, what="booking"))
    if not user.is_superuser:
        q &= visible_q(user=user)
    booking = (
        Booking.objects.filter(q).select_related(*_BOOKING_RELATED).defer("round__plan").first()
    )
    if booking is None:
        raise NotFound("booking")
    return booking


def resource_get(*, slug: str) -> Resource:
    """A catalogue resource; the catalogue is park-wide, so every member may see every resource."""
    resource = (
        Resource.objects.select_related(
            "location", "required_training", "gpu", "line", "instrument"
        )
        .filter(slug=slug)
        .first()
    )
    if resource is None:
        raise NotFound("resource")
    return resource


def resource_get_brief(*, slug: str) -> Resource:
    """``resource_get`` without the kind's attributes and related rows (a lean query for hot
    paths such as availability, which need only the id, kind and capacity)."""
    resource = Resource.objects.only("id", "slug", "kind", "capacity").filter(slug=slug).first()
    if resource is None:
        raise NotFound("resource")
    return resource


def catalogue(
    *,
    user,
    kind: str | None = None,
    location=None,
    gpu_model: str | None = None,
    free_from: dt.datetime | None = None,
    free_to: dt.datetime | None = None,
    trained_only: bool = False,
):
    """Bookable resources with filters: ``kind``; ``location`` (a Location or id, matching it and
    everything inside it); ``gpu_model`` (case-insensitive); free for the whole window
    [free_from, free_to) (open or staffed then, no maintenance, capacity-1 resources unbooked,
    GPU nodes with a GPU left); ``trained_only`` keeps resources the user may use today (no
    training needed, or a valid training held). Returns an unevaluated queryset (one SQL query;
    the window filter reads opening hours with one more)."""
    qs = Resource.objects.filter(active=True).select_related(
        "location", "location__parent", "required_training", "gpu"
    )
    if kind:
        qs = qs.filter(kind=kind)
    if location:
        loc = getattr(location, "pk", location)
        qs = qs.filter(
            Q(location_id=loc)
            | Q(location__parent_id=loc)
            | Q(location__parent__parent_id=loc)
            | Q(location__parent__parent__parent_id=loc)
        )
    if gpu_model:
        qs = qs.filter(gpu__gpu_model__iexact=gpu_model)
    if free_from and free_to and free_to > free_from:
        overlapping = Booking.objects.filter(
            resource=OuterRef("pk"),
            status__in=HOLDING_STATUSES,
            start__lt=free_to,
            end__gt=free_from,
        )
        held = (
            overlapping.order_by()
            .values("resource")
            .annotate(total=Sum("units"))
            .values("total")[:1]
        )
        qs = (
            qs.annotate(held_units=Coalesce(Subquery(held), Value(0)))
            .filter(held_units__lt=F("capacity"))
            .exclude(
                Exists(
                    MaintenanceWindow.objects.filter(
                        resource=OuterRef("pk"), start__lt=free_to, end__gt=free_from
                    )
                )
            )
        )
        # Opening hours and shifts are weekly patterns: checked here for the candidates only.
        weekly: dict[tuple[int, str], list] = {}
        for rid, purpose, day, opens, closes in (
            WeeklyHours.objects.filter(resource__in=qs.values("pk"))
            .order_by()
            .values_list("resource_id", "purpose", "weekday", "opens", "closes")
        ):
            weekly.setdefault((rid, purpose), []).append((day, opens, closes))
        closed = []
        for rid, kind in qs.values_list("pk", "kind"):
            purpose = hours_purpose(Resource(kind=kind))
            opened = open_intervals(
                weekly=weekly.get((rid, purpose), []), start=free_from, end=free_to
            )
            if opened is not None and not any(a <= free_from and free_to <= b for a, b in opened):
                closed.append(rid)
        if closed:
            qs = qs.exclude(pk__in=closed)
    if trained_only and user.is_authenticated:
        today = timezone.localdate()
        qs = qs.filter(
            Q(required_training__isnull=True)
            | Exists(
                TrainingRecord.objects.filter(
                    user=user,
                    training=OuterRef("required_training"),
                    granted_on__lte=today,
                    expires_on__gt=today,
                )
            )
        )
    return qs.order_by("kind", "name")


def gpu_models() -> list[str]:
    return list(
        GpuNode.objects.order_by("gpu_model").values_list("gpu_model", flat=True).distinct()
    )


def booking_hours_held(
    *,
    tenant,
    resource_class: str,
    start: dt.datetime,
    end: dt.datetime,
    exclude_booking_id=None,
) -> UsageQuery:
    """Hours the tenant's holding bookings of ``resource_class`` take in [start, end) (GPU
    bookings count GPU-hours; a booking counts for its part inside the window). The usage source
    of bookings for quota use (registered in ``BookingsConfig.ready``): one aggregate in SQL,
    run with the other sources' in one statement (``tenancy.selectors.used_hours``)."""
    b = sql.table(Booking)
    b_start, b_end = f"{b}.{sql.column(Booking, 'start')}", f"{b}.{sql.column(Booking, 'end')}"
    overlap = f"{sql.seconds(sql.least(b_end, '%s'))} - {sql.seconds(sql.greatest(b_start, '%s'))}"
    r = sql.table(Resource)
    statement = (
        f"SELECT SUM({b}.{sql.column(Booking, 'units')} * ({overlap})) FROM {b} "
        f"JOIN {r} ON {r}.{sql.column(Resource, 'id')} = {b}.{sql.column(Booking, 'resource')} "
        f"WHERE {b}.{sql.column(Booking, 'tenant')} = %s AND {r}.{sql.column(Resource, 'kind')} = %s "
        f"AND {b}.{sql.column(Booking, 'status')} IN ({sql.placeholders(HOLDING_STATUSES)}) "
        f"AND {b_start} < %s AND {b_end} > %s"
    )
    params = [
        sql.at(end),
        sql.at(start),
        sql.pk(tenant),
        resource_class,
        *HOLDING_STATUSES,
        sql.at(end),
        sql.at(start),
    ]
    if exclude_booking_id is not None:
        statement += f" AND {b}.{sql.column(Booking, 'id')} <> %s"
        params.append(sql.pk(exclude_booking_id))
    return UsageQuery(statement, params, 1, lambda row: sql.decimal(row[0]) / Decimal(3600))
