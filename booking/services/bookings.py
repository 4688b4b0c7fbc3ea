"""Instant bookings: the rules, creation, cancellation and the one place where a status changes.

Lock order (every writer that takes more than one row lock follows it, so concurrent writers
never deadlock each other): Resource → Tenant → Booking.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from django.db import IntegrityError, OperationalError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from booking.errors import Conflict, Forbidden, NotFound, ParkError
from booking.models import (
    HOLDING_STATUSES,
    Booking,
    BookingEvent,
    BookingStatus,
    Membership,
    Quota,
    Tenant,
)
from booking.selectors import period_bounds, used_hours
from resources.models import MaintenanceWindow, Recipe, Resource, ResourceKind, WeeklyHours
from resources.selectors import training_contact, training_valid


class BookingRefused(ParkError):
    """A booking that breaks one or more rules; ``errors`` holds all of them, the first sets
    ``code``/``field``/``status`` so callers that only look at one error still see the main one."""

    def __init__(self, errors: list[ParkError]):
        first = errors[0]
        super().__init__(first.code, first.message, field=first.field, status=first.status)
        self.errors = errors

    def as_dict(self) -> dict:
        data = super().as_dict()
        data["errors"] = [e.as_dict() for e in self.errors]
        return data


def _slot_taken() -> Conflict:
    return Conflict(
        "slot_taken",
        _("start: this slot has just been taken by another booking; choose another time."),
        field="start",
    )


# --------------------------------------------------------------------------------------------
# Calendars: opening hours / shifts as concrete intervals
# --------------------------------------------------------------------------------------------


def hours_purpose(resource: Resource) -> str:
    """Lines are bookable during technician shifts; everything else during opening hours."""
    if resource.kind == ResourceKind.PILOT_LINE:
        return WeeklyHours.Purpose.SHIFT
    return WeeklyHours.Purpose.OPENING


def open_intervals(
    *, weekly: list[tuple[int, dt.time, dt.time]], start: dt.datetime, end: dt.datetime
) -> list[tuple[dt.datetime, dt.datetime]] | None:
    """Merged open intervals (aware, local time) of weekly rows ``(weekday, opens, closes)``
    that touch [start, end). ``None`` means the resource has no hours set: always open.

    A closing time of 23:59 means "until midnight" (a TimeField cannot hold 24:00), so a
    line staffed round the clock has no one-minute gap each night.
    """
    if not weekly:
        return None
    tz = timezone.get_current_timezone()
    by_day: dict[int, list[tuple[dt.time, dt.time]]] = {}
    for weekday, opens, closes in weekly:
        by_day.setdefault(weekday, []).append((opens, closes))
    day = timezone.localtime(start).date() - dt.timedelta(days=1)
    last = timezone.localtime(end).date()
    intervals: list[tuple[dt.datetime, dt.datetime]] = []
    while day <= last:
        for opens, closes in sorted(by_day.get(day.weekday(), [])):
            a = dt.datetime.combine(day, opens, tzinfo=tz)
            if closes >= dt.time(23, 59):
                b = dt.datetime.combine(day + dt.timedelta(days=1), dt.time.min, tzinfo=tz)
            else:
                b = dt.datetime.combine(day, closes, tzinfo=tz)
            if intervals and a <= intervals[-1][1]:
                intervals[-1] = (intervals[-1][0], max(intervals[-1][1], b))
            else:
                intervals.append((a, b))
        day += dt.timedelta(days=1)
    return [(a, b) for a, b in intervals if a < end and b > start]


def _covered(intervals: list[tuple[dt.datetime, dt.datetime]], start, end) -> bool:
    return any(a <= start and end <= b for a, b in intervals)


def peak_units(rows, start: dt.datetime, end: dt.datetime) -> int:
    """Largest sum of ``units`` held at any instant of [start, end) by rows ``(start, end, units)``."""
    points = []
    for b_start, b_end, units in rows:
        a, b = max(b_start, start), min(b_end, end)
        if a < b:
            points.append((a, units))
            points.append((b, -units))
    # Ends sort before starts at the same instant: [a, b) and [b, c) do not overlap.
    points.sort(key=lambda p: (p[0], p[1]))
    peak = current = 0
    for _at, delta in points:
        current += delta
        peak = max(peak, current)
    return peak


def _local_dates(start: dt.datetime, end: dt.datetime) -> list[dt.date]:
    first = timezone.localtime(start).date()
    last = timezone.localtime(end - dt.timedelta(microseconds=1)).date()
    return [first + dt.timedelta(days=i) for i in range((last - first).days + 1)]


def _fmt(value: dt.datetime) -> str:
    return timezone.localtime(value).strftime("%Y-%m-%d %H:%M")


def _hours(value: Decimal | float) -> str:
    return f"{Decimal(value).quantize(Decimal('0.01')).normalize():f}"


# --------------------------------------------------------------------------------------------
# The rules
# --------------------------------------------------------------------------------------------


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
        return [ParkError("resource_unknown", _("resource: no such resource."), field="resource")]
    if tenant is None:
        return [ParkError("tenant_unknown", _("tenant: choose a tenant."), field="tenant")]
    if not Membership.objects.filter(user=user, tenant=tenant).exists():
        errors.append(
            ParkError(
                "not_member",
                _("tenant: you are not a member of %(tenant)s.") % {"tenant": tenant.name},
                field="tenant",
                status=403,
            )
        )
    if not resource.active:
        errors.append(
            ParkError(
                "resource_inactive",
                _("resource: %(name)s is not bookable at the moment.") % {"name": resource.name},
                field="resource",
            )
        )

    # Units: whole GPUs on a GPU node, exactly one of anything else.
    if units is None or units < 1:
        errors.append(ParkError("units_invalid", _("units: book at least 1."), field="units"))
    elif units > resource.capacity:
        errors.append(
            ParkError(
                "units_over_capacity",
                _("units: %(name)s has only %(capacity)s; you asked for %(units)s.")
                % {"name": resource.name, "capacity": resource.capacity, "units": units},
                field="units",
            )
        )

    # Recipes belong to lines; a line with recipes needs one.
    if resource.kind == ResourceKind.PILOT_LINE:
        if recipe is None and Recipe.objects.filter(line=resource).exists():
            errors.append(
                ParkError(
                    "recipe_required",
                    _("recipe: choose the process recipe for this line run."),
                    field="recipe",
                )
            )
    if recipe is not None and recipe.line_id != resource.pk:
        errors.append(
            ParkError(
                "recipe_unknown",
                _("recipe: “%(code)s” is not a recipe of %(name)s.")
                % {"code": recipe.code, "name": resource.name},
                field="recipe",
            )
        )

    # Times: without a valid interval nothing else about time can be checked.
    if start is None:
        errors.append(ParkError("start_required", _("start: enter a start time."), field="start"))
    if end is None:
        errors.append(ParkError("end_required", _("end: enter an end time."), field="end"))
    if start is None or end is None:
        return errors
    if end <= start:
        errors.append(
            ParkError("end_before_start", _("end: the end must be after the start."), field="end")
        )
        return errors

    minutes = (end - start).total_seconds() / 60
    if start < now:
        errors.append(ParkError("in_past", _("start: the start is in the past."), field="start"))
    elif start < now + dt.timedelta(minutes=resource.min_notice_minutes):
        errors.append(
            ParkError(
                "notice_too_short",
                _("start: %(name)s needs %(minutes)s minutes' notice; book from %(earliest)s.")
                % {
                    "name": resource.name,
                    "minutes": resource.min_notice_minutes,
                    "earliest": _fmt(now + dt.timedelta(minutes=resource.min_notice_minutes)),
                },
                field="start",
            )
        )
    horizon = now + dt.timedelta(days=resource.horizon_days)
    if end > horizon:
        errors.append(
            ParkError(
                "beyond_horizon",
                _("end: %(name)s can be booked at most %(days)s days ahead (until %(until)s).")
                % {"name": resource.name, "days": resource.horizon_days, "until": _fmt(horizon)},
                field="end",
            )
        )
    if minutes < resource.min_length_minutes:
        errors.append(
            ParkError(
                "too_short",
                _("end: a booking of %(name)s lasts at least %(minutes)s minutes.")
                % {"name": resource.name, "minutes": resource.min_length_minutes},
                field="end",
            )
        )
    if minutes > resource.max_length_minutes:
        errors.append(
            ParkError(
                "too_long",
                _("end: a booking of %(name)s lasts at most %(minutes)s minutes.")
                % {"name": resource.name, "minutes": resource.max_length_minutes},
                field="end",
            )
        )
    slot = resource.slot_minutes
    for field, value in (("start", start), ("end", end)):
        local = timezone.localtime(value)
        since_midnight = local.hour * 60 + local.minute
        if since_midnight % slot or local.second or local.microsecond:
            if field == "start":
                message = _("start: times on %(name)s go in steps of %(slot)s minutes.")
            else:
                message = _("end: times on %(name)s go in steps of %(slot)s minutes.")
            errors.append(
                ParkError(
                    "not_on_slot",
                    message % {"name": resource.name, "slot": slot},
                    field=field,
                )
            )

    purpose = hours_purpose(resource)
    weekly = list(
        WeeklyHours.objects.filter(resource=resource, purpose=purpose)
        .order_by()  # the model's ordering would join the resource table for nothing
        .values_list("weekday", "opens", "closes")
    )
    intervals = open_intervals(weekly=weekly, start=start, end=end)
    if intervals is not None and not _covered(intervals, start, end):
        if purpose == WeeklyHours.Purpose.SHIFT:
            code, message = "outside_shift", _("start: %(name)s is not staffed at that time.")
        else:
            code, message = "outside_opening_hours", _("start: %(name)s is closed at that time.")
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
                _("start: %(name)s is under maintenance from %(start)s to %(end)s.")
                % {
                    "name": resource.name,
                    "start": _fmt(maintenance.start),
                    "end": _fmt(maintenance.end),
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
                            "resource: %(name)s needs a valid “%(training)s” training on "
                            "%(day)s. Ask %(contact)s to book you on the training."
                        )
                        % {
                            "name": resource.name,
                            "training": resource.required_training.name,
                            "day": day.isoformat(),
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
                    _("start: %(name)s is already booked at that time.") % {"name": resource.name},
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
                            "end: %(tenant)s has %(left)s of %(quota)s %(unit)s left in the "
                            "%(period)s from %(from)s; this booking needs %(wanted)s."
                        )
                        % {
                            "tenant": tenant.name,
                            "left": _hours(max(Decimal(0), quota.hours - used)),
                            "quota": _hours(quota.hours),
                            "unit": resource.unit_label,
                            "period": quota.get_period_display().lower(),
                            "from": timezone.localtime(p_start).date().isoformat(),
                            "wanted": _hours(wanted),
                        },
                        field="end",
                    )
                )
                break
            at = p_end
    return errors


# --------------------------------------------------------------------------------------------
# Writes
# --------------------------------------------------------------------------------------------

# Allowed status changes; "" is a booking being created.
TRANSITIONS: dict[str, set[str]] = {
    "": {BookingStatus.REQUESTED, BookingStatus.CONFIRMED},
    BookingStatus.REQUESTED: {
        BookingStatus.CONFIRMED,
        BookingStatus.REFUSED,
        BookingStatus.WAITLISTED,
        BookingStatus.CANCELLED,
    },
    BookingStatus.WAITLISTED: {
        BookingStatus.CONFIRMED,
        BookingStatus.REFUSED,
        BookingStatus.CANCELLED,
    },
    BookingStatus.REFUSED: {BookingStatus.WAITLISTED, BookingStatus.CANCELLED},
    BookingStatus.CONFIRMED: {BookingStatus.CANCELLED, BookingStatus.COMPLETED},
    BookingStatus.CANCELLED: set(),
    BookingStatus.COMPLETED: set(),
}

# Fields a status change may set at the same time (e.g. the planner's times and reason).
TRANSITION_FIELDS = {"start", "end", "resource", "reason_code", "reason_text", "units"}


def booking_transition(
    *,
    booking: Booking,
    to_status: str,
    actor=None,
    note: str = "",
    **changes,
) -> Booking:
    """THE one place where a booking's status changes. Race-safe and recorded.

    In: ``booking`` (its ``status`` as the caller last saw it), ``to_status`` (a
    ``BookingStatus``), ``actor`` (the user who caused it, or ``None`` for the planner/system),
    ``note`` for the event, and optional ``changes`` to store with it: any of ``start``, ``end``,
    ``resource``, ``units``, ``reason_code``, ``reason_text`` (e.g. the planner's slot and reason
    when it confirms, moves or refuses a request).
    Out: the booking, refreshed. A ``BookingEvent`` (from → to, actor, note) is written.
    Raises ``Conflict("status_changed")`` (409) if someone else changed the status first,
    ``ParkError("transition_not_allowed")`` for a change the life cycle does not allow, and
    ``Conflict("slot_taken")`` if PostgreSQL's no-overlap constraint refuses a confirmation.
    Sends no e-mail: callers notify (``booking.notifications``) once their transaction commits.
    """
    from_status = booking.status
    if to_status not in TRANSITIONS.get(from_status, set()):
        raise ParkError(
            "transition_not_allowed",
            _("status: a booking that is %(old)s cannot become %(new)s.")
            % {
                "old": BookingStatus(from_status).label if from_status else "new",
                "new": BookingStatus(to_status).label,
            },
            field="status",
            status=409,
        )
    unknown = set(changes) - TRANSITION_FIELDS
    if unknown:
        raise ValueError(f"booking_transition cannot change {sorted(unknown)}")
    if "resource" in changes and changes["resource"] is not None:
        changes["exclusive"] = changes["resource"].capacity == 1
    try:
        with transaction.atomic():
            # Compare-and-set: only the writer that still sees the old status wins.
            updated = Booking.objects.filter(pk=booking.pk, status=from_status).update(
                status=to_status, updated_at=timezone.now(), **changes
            )
            if updated != 1:
                raise Conflict(
                    "status_changed",
                    _("status: this booking was changed meanwhile; reload and try again."),
                    field="status",
                )
            BookingEvent.objects.create(
                booking_id=booking.pk,
                from_status=from_status,
                to_status=to_status,
                actor=actor,
                note=note[:400],
            )
    except (IntegrityError, OperationalError) as exc:
        if isinstance(exc, OperationalError) and "deadlock" not in str(exc).lower():
            raise
        raise _slot_taken() from None
    booking.refresh_from_db()
    return booking


def booking_create_instant(
    *,
    user,
    tenant: Tenant,
    resource: Resource,
    start: dt.datetime,
    end: dt.datetime,
    units: int = 1,
    title: str,
    recipe: Recipe | None = None,
    now: dt.datetime | None = None,
) -> Booking:
    """Book a free slot of an instant-booked resource; confirmed at once.

    In: as ``booking_check`` plus a ``title``. Out: the confirmed ``Booking`` (with its creation
    event); the confirmation e-mail goes out once the transaction commits.
    Raises ``BookingRefused`` (a ``ParkError`` holding every broken rule) or
    ``Conflict("slot_taken")`` (409) when a concurrent booking won the slot. Nothing is written
    on refusal.

    Concurrency: the resource row and then the tenant row are locked (``select_for_update``),
    so bookings of one resource, and quota use of one tenant, are checked and written one at a
    time. On PostgreSQL the exclusion constraint refuses overlaps even if a writer skipped the
    lock; on SQLite writers are serialised by IMMEDIATE transactions.
    """
    from booking.notifications import notify_booking

    title = (title or "").strip()
    if not title:
        raise BookingRefused(
            [ParkError("title_required", _("title: give the booking a title."), field="title")]
        )
    if len(title) > 200:
        raise BookingRefused(
            [ParkError("title_too_long", _("title: at most 200 characters."), field="title")]
        )
    if resource.booking_mode != "instant":
        raise BookingRefused(
            [
                ParkError(
                    "round_booked",
                    _("resource: %(name)s is planned in allocation rounds; send a round request.")
                    % {"name": resource.name},
                    field="resource",
                )
            ]
        )
    try:
        with transaction.atomic():
            locked = Resource.objects.select_for_update().filter(pk=resource.pk).first()
            if locked is None:
                raise NotFound("resource", field="resource")
            Tenant.objects.select_for_update().filter(pk=tenant.pk).first()
            errors = booking_check(
                user=user,
                tenant=tenant,
                resource=locked,
                start=start,
                end=end,
                units=units,
                recipe=recipe,
                now=now,
            )
            if errors:
                raise BookingRefused(errors)
            booking = Booking(
                tenant=tenant,
                user=user,
                resource=locked,
                title=title,
                units=units,
                recipe=recipe,
                start=start,
                end=end,
                status=BookingStatus.CONFIRMED,
                exclusive=locked.capacity == 1,
            )
            # The related rows were just read (and locked); re-querying each foreign key would
            # only cost round trips. The database holds the constraints.
            booking.full_clean(
                exclude=["tenant", "user", "resource", "recipe"], validate_constraints=False
            )
            booking.save()
            BookingEvent.objects.create(
                booking=booking,
                from_status="",
                to_status=BookingStatus.CONFIRMED,
                actor=user,
                note="instant booking",
            )
            transaction.on_commit(lambda: notify_booking(booking=booking, event="confirmed"))
    except IntegrityError:
        raise _slot_taken() from None
    except OperationalError as exc:
        # PostgreSQL sometimes reports the loser of an exclusion-constraint race as a deadlock.
        if "deadlock" in str(exc).lower():
            raise _slot_taken() from None
        raise
    return booking


def _may_act_for(*, user, booking: Booking) -> bool:
    if booking.user_id == user.pk or user.is_superuser:
        return True
    return Membership.objects.filter(
        user=user, tenant_id=booking.tenant_id, role=Membership.Role.MANAGER
    ).exists()


def booking_cancel(*, user, booking: Booking, now: dt.datetime | None = None) -> Booking:
    """Cancel a booking or round request: its owner, a manager of its tenant, or an operator.

    Refused (nothing changes) for someone else's booking of another tenant (``NotFound``), for a
    member cancelling a colleague's booking (``Forbidden``), once a booking has started
    (``already_started``) or when it is already refused/cancelled/completed
    (``transition_not_allowed``). Writes the event with the actor, mails the owner, and hands
    the freed time to the waitlist when a confirmed booking is cancelled.
    """
    from booking.notifications import notify_booking

    now = now or timezone.now()
    if not _may_act_for(user=user, booking=booking):
        if (
            booking.tenant_id
            and Membership.objects.filter(user=user, tenant_id=booking.tenant_id).exists()
        ):
            raise Forbidden(
                "not_owner",
                _("booking: only its owner or a manager of the tenant may cancel it."),
                field="booking",
            )
        raise NotFound("booking", field="booking")
    if booking.status == BookingStatus.CONFIRMED and booking.start and booking.start <= now:
        raise ParkError(
            "already_started",
            _("booking: it started at %(start)s and can no longer be cancelled.")
            % {"start": _fmt(booking.start)},
            field="booking",
            status=409,
        )
    was_confirmed = booking.status == BookingStatus.CONFIRMED
    with transaction.atomic():
        booking = booking_transition(
            booking=booking, to_status=BookingStatus.CANCELLED, actor=user, note="cancelled"
        )
        transaction.on_commit(lambda: notify_booking(booking=booking, event="cancelled"))
    if was_confirmed:
        _hand_to_waitlist(booking)
    return booking


def _hand_to_waitlist(booking: Booking) -> None:
    """The rounds side re-plans freed time among waitlisted requests (if it is installed)."""
    try:
        from booking.services.rounds import waitlist_on_cancel
    except ImportError:
        return
    waitlist_on_cancel(booking=booking)
