"""The rules an instant booking must pass, every broken one reported (``booking_check``)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from django.utils import timezone
from django.utils.translation import gettext as _

from booking.bookings.models import HOLDING_STATUSES, TRANSITIONS, Booking, BookingStatus
from booking.errors import ParkError
from booking.formats import day_text, when_text
from booking.tenancy.access import is_member
from booking.tenancy.models import Quota, Tenant
from booking.tenancy.selectors import period_bounds, used_hours
from resources.availability import covered, hours_purpose, open_intervals, peak_units
from resources.models import MaintenanceWindow, Recipe, Resource, ResourceKind, WeeklyHours
from resources.selectors import training_contact, training_valid


def _local_dates(start: dt.datetime, end: dt.datetime) -> list[dt.date]:
    first = timezone.localtime(start).date()
    last = timezone.localtime(end - dt.timedelta(microseconds=1)).date()
    return [first + dt.timedelta(days=i) for i in range((last - first).days + 1)]


def _hours(value: Decimal | float) -> str:
    return f"{Decimal(value).quantize(Decimal('0.01')).normalize():f}"


def slot_errors(resource, start: dt.datetime, end: dt.datetime) -> list[ParkError]:
    """``not_on_slot`` for a start or end off the resource's time grid (steps of its
    ``slot_minutes`` from local midnight): the rule an instant booking and a published plan
    share."""
    errors = []
    slot = resource.slot_minutes
    for field, value in (("start", start), ("end", end)):
        local = timezone.localtime(value)
        since_midnight = local.hour * 60 + local.minute
        if since_midnight % slot or local.second or local.microsecond:
            message = _("Times on %(name)s go in steps of %(slot)s minutes.")
            errors.append(
                ParkError(
                    "not_on_slot",
                    message % {"name": resource.name, "slot": slot},
                    field=field,
                )
            )
    return errors


def booking_check(
    *,
    user,
    tenant: Tenant | None,
    resource: Resource | None,
    start: dt.datetime | None,
    end: dt.datetime | None,
    units: int = 1,
    recipe: Recipe | None = None,
    now: dt.datetime | None = None,
    exclude_booking_id: int | None = None,
) -> list[ParkError]:
    """Every rule an instant booking must pass; an empty list means it may be booked.

    In: the acting ``user`` and ``tenant`` they book for, the ``resource``, the wanted
    [``start``, ``end``) (aware datetimes), ``units`` (GPUs on a GPU node, else 1), the line
    ``recipe``; ``now`` for tests; ``exclude_booking_id`` to ignore a booking being moved.
    Out: one ``ParkError`` per broken rule with a stable ``code`` and the ``field`` at fault.
    Used for live form validation and inside ``booking_create_instant`` (one copy of the rules).
    """
    errors: list[ParkError] = []
    now = now or timezone.now()

    if resource is None:
        return [ParkError("resource_unknown", _("No such resource."), field="resource")]
    if tenant is None:
        return [ParkError("tenant_unknown", _("Choose a tenant."), field="tenant")]
    if not is_member(user=user, tenant_id=tenant.pk):
        errors.append(
            ParkError(
                "not_member",
                _("You are not a member of %(tenant)s."),
                params={"tenant": tenant.name},
                field="tenant",
                status=403,
            )
        )
    if not resource.active:
        errors.append(
            ParkError(
                "resource_inactive",
                _("%(name)s is not bookable at the moment."),
                params={"name": resource.name},
                field="resource",
            )
        )

    # Units: whole GPUs on a GPU node, exactly one of anything else.
    if units is None or units < 1:
        errors.append(ParkError("units_invalid", _("Book at least 1."), field="units"))
    elif units > resource.capacity:
        errors.append(
            ParkError(
                "units_over_capacity",
                _("%(name)s has only %(capacity)s; you asked for %(units)s."),
                params={"name": resource.name, "capacity": resource.capacity, "units": units},
                field="units",
            )
        )

    # Recipes belong to lines; a line with recipes needs one.
    if resource.kind == ResourceKind.PILOT_LINE:
        if recipe is None and Recipe.objects.filter(line=resource).exists():
            errors.append(
                ParkError(
                    "recipe_required",
                    _("Choose the process recipe for this line run."),
                    field="recipe",
                )
            )
    if recipe is not None and recipe.line_id != resource.pk:
        errors.append(
            ParkError(
                "recipe_unknown",
                _("“%(code)s” is not a recipe of %(name)s."),
                params={"code": recipe.code, "name": resource.name},
                field="recipe",
            )
        )

    # Times: without a valid interval nothing else about time can be checked.
    if start is None:
        errors.append(ParkError("start_required", _("Enter a start time."), field="start"))
    if end is None:
        errors.append(ParkError("end_required", _("Enter an end time."), field="end"))
    if start is None or end is None:
        return errors
    if end <= start:
        errors.append(
            ParkError("end_before_start", _("The end must be after the start."), field="end")
        )
        return errors

    minutes = (end - start).total_seconds() / 60
    if start < now:
        errors.append(ParkError("in_past", _("The start is in the past."), field="start"))
    elif start < now + dt.timedelta(minutes=resource.min_notice_minutes):
        errors.append(
            ParkError(
                "notice_too_short",
                _("%(name)s needs %(minutes)s minutes' notice; book from %(earliest)s."),
                params={
                    "name": resource.name,
                    "minutes": resource.min_notice_minutes,
                    "earliest": when_text(now + dt.timedelta(minutes=resource.min_notice_minutes)),
                },
                field="start",
            )
        )
    horizon = now + dt.timedelta(days=resource.horizon_days)
    if end > horizon:
        errors.append(
            ParkError(
                "beyond_horizon",
                _("%(name)s can be booked at most %(days)s days ahead (until %(until)s)."),
                params={
                    "name": resource.name,
                    "days": resource.horizon_days,
                    "until": when_text(horizon),
                },
                field="end",
            )
        )
    if minutes < resource.min_length_minutes:
        errors.append(
            ParkError(
                "too_short",
                _("A booking of %(name)s lasts at least %(minutes)s minutes."),
                params={"name": resource.name, "minutes": resource.min_length_minutes},
                field="end",
            )
        )
    if minutes > resource.max_length_minutes:
        errors.append(
            ParkError(
                "too_long",
                _("A booking of %(name)s lasts at most %(minutes)s minutes."),
                params={"name": resource.name, "minutes": resource.max_length_minutes},
                field="end",
            )
        )
    errors.extend(slot_errors(resource, start, end))

    purpose = hours_purpose(resource)
    weekly = list(
        WeeklyHours.objects.filter(resource=resource, purpose=purpose)
        .order_by()  # the model's ordering would join the resource table for nothing
        .values_list("weekday", "opens", "closes")
    )
    intervals = open_intervals(weekly=weekly, start=start, end=end)
    if intervals is not None and not covered(intervals, start, end):
        if purpose == WeeklyHours.Purpose.SHIFT:
            code, message = "outside_shift", _("%(name)s is not staffed at that time.")
        else:
            code, message = "outside_opening_hours", _("%(name)s is closed at that time.")
        errors.append(ParkError(code, message % {"name": resource.name}, field="start"))

    maintenance = (
        MaintenanceWindow.objects.filter(resource=resource, start__lt=end, end__gt=start)
        .order_by("start")
        .first()
    )
    if maintenance is not None:
        errors.append(
            ParkError(
                "maintenance",
                _("%(name)s is under maintenance from %(start)s to %(end)s."),
                params={
                    "name": resource.name,
                    "start": when_text(maintenance.start),
                    "end": when_text(maintenance.end),
                },
                field="start",
            )
        )

    if resource.required_training_id is not None:
        for day in _local_dates(start, end):
            if not training_valid(user=user, resource=resource, on=day):
                errors.append(
                    ParkError(
                        "training_required",
                        _(
                            "%(name)s needs a valid “%(training)s” training on "
                            "%(day)s. Ask %(contact)s to book you on the training."
                        ),
                        params={
                            "name": resource.name,
                            "training": resource.required_training.name,
                            "day": day_text(day),
                            "contact": training_contact(),
                        },
                        field="resource",
                        status=403,
                    )
                )
                break

    if units and 1 <= units <= resource.capacity:
        holding = Booking.objects.filter(
            resource=resource, status__in=HOLDING_STATUSES, start__lt=end, end__gt=start
        )
        if exclude_booking_id is not None:
            holding = holding.exclude(pk=exclude_booking_id)
        if resource.capacity == 1:
            taken = holding.exists()
        else:
            taken = (
                peak_units(holding.values_list("start", "end", "units"), start, end) + units
                > resource.capacity
            )
        if taken:
            errors.append(
                ParkError(
                    "slot_taken",
                    _("%(name)s is already booked at that time."),
                    params={"name": resource.name},
                    field="start",
                    status=409,
                )
            )

    errors.extend(
        _quota_errors(
            tenant=tenant,
            resource=resource,
            start=start,
            end=end,
            units=units or 1,
            exclude_booking_id=exclude_booking_id,
        )
    )
    return errors


def _quota_errors(*, tenant, resource, start, end, units, exclude_booking_id) -> list[ParkError]:
    """The tenant's quota left for every quota period the booking touches. No quota for a
    resource class means no cap on it (the operator sets caps where capacity is contended)."""
    errors = []
    for quota in Quota.objects.filter(tenant=tenant, resource_class=resource.kind):
        at = start
        while at < end:
            p_start, p_end = period_bounds(period=quota.period, at=at)
            inside = (min(end, p_end) - max(start, p_start)).total_seconds() / 3600
            wanted = Decimal(units) * Decimal(str(inside))
            used = used_hours(
                tenant=tenant,
                resource_class=resource.kind,
                start=p_start,
                end=p_end,
                exclude_booking_id=exclude_booking_id,
            )
            if used + wanted > quota.hours:
                errors.append(
                    ParkError(
                        "quota_exceeded",
                        _(
                            "%(tenant)s has %(left)s of %(quota)s %(unit)s left in the "
                            "%(period)s from %(from)s; this booking needs %(wanted)s."
                        ),
                        params={
                            "tenant": tenant.name,
                            "left": _hours(max(Decimal(0), quota.hours - used)),
                            "quota": _hours(quota.hours),
                            "unit": resource.unit_label,
                            "period": quota.get_period_display().lower(),
                            "from": day_text(timezone.localtime(p_start).date()),
                            "wanted": _hours(wanted),
                        },
                        field="end",
                    )
                )
                break
            at = p_end
    return errors


def cancel_refusal(*, booking: Booking, now: dt.datetime) -> ParkError | None:
    """Why ``booking`` cannot be cancelled at ``now``, or ``None`` when it can (who may cancel it
    is the access rule's question, asked by ``booking_cancel``): a confirmed booking that has
    started (``already_started``), or a status the life cycle does not let become CANCELLED
    (``transition_not_allowed``)."""
    if booking.status == BookingStatus.CONFIRMED and booking.start and booking.start <= now:
        return ParkError(
            "already_started",
            _("It started at %(start)s and can no longer be cancelled."),
            params={"start": when_text(booking.start)},
            field="booking",
            status=409,
        )
    if BookingStatus.CANCELLED not in TRANSITIONS.get(booking.status, frozenset()):
        return ParkError(
            "transition_not_allowed",
            _("A booking that is %(old)s cannot become %(new)s."),
            params={
                "old": BookingStatus(booking.status).label,
                "new": BookingStatus.CANCELLED.label,
            },
            field="status",
            status=409,
        )
    return None


def booking_cancellable(*, booking: Booking, now: dt.datetime) -> bool:
    """Whether the page offers a cancel button (the same rule ``booking_cancel`` applies)."""
    return cancel_refusal(booking=booking, now=now) is None
