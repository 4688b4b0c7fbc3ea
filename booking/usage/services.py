"""Check-in and check-out, no-show release, closing bookings at their end, line run records
(kiosk PINs: ``usage.kiosk``). Every status change goes through ``booking_transition``.

Callers (views, API, tasks) start the follow-up work these services report back: offering
freed time to the waitlist (``usage.tasks.usage_offer_freed_time_task``) and the no-show
e-mails (``usage.tasks.usage_notify_no_shows_task``), once the transaction has committed.
"""

from __future__ import annotations

import datetime as dt
import logging
import math
from dataclasses import dataclass, field
from decimal import Decimal

from django.db import transaction
from django.db.models import Sum
from django.utils import timezone
from django.utils.translation import gettext as _

from booking.bookings.models import Booking, BookingStatus
from booking.bookings.services import booking_transition, bookings_transition_many
from booking.bulk import insert_rows
from booking.compute.models import ComputeJob, JobState
from booking.errors import Conflict, Forbidden, NotFound, ParkError
from booking.tenancy.models import Membership
from booking.usage.models import (
    BookingUsage,
    CheckInRule,
    LineRun,
    UsagePolicy,
    UsageSource,
)
from resources.models import Recipe, Resource, ResourceKind

logger = logging.getLogger(__name__)

DEFAULT_OPENS_BEFORE = 15
DEFAULT_CLOSES_AFTER = 15
LIVE_JOB_STATES = (JobState.QUEUED, JobState.PENDING, JobState.RUNNING)


# --------------------------------------------------------------------------------------------
# Policy and windows
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Window:
    """A resource's check-in rule: whether it needs one, and how far around the start."""

    required: bool
    opens_before: dt.timedelta
    closes_after: dt.timedelta


def default_window(kind: str) -> Window:
    # GPU bookings are measured from their jobs; instruments and lines need someone present.
    return Window(
        required=kind != ResourceKind.GPU_NODE,
        opens_before=dt.timedelta(minutes=DEFAULT_OPENS_BEFORE),
        closes_after=dt.timedelta(minutes=DEFAULT_CLOSES_AFTER),
    )


def _window_of_rule(rule: CheckInRule) -> Window:
    return Window(
        required=rule.check_in_required,
        opens_before=dt.timedelta(minutes=rule.opens_minutes_before),
        closes_after=dt.timedelta(minutes=rule.closes_minutes_after),
    )


def window_for(resource: Resource) -> Window:
    """The check-in rule of ``resource``: the operator's row, else the kind's default."""
    rule = CheckInRule.objects.filter(resource_id=resource.pk).first()
    return _window_of_rule(rule) if rule else default_window(resource.kind)


def check_in_times(*, booking: Booking, window: Window | None = None) -> tuple[dt.datetime, ...]:
    """[opens, closes] of a booking's check-in window (both instants included)."""
    window = window or window_for(booking.resource)
    return booking.start - window.opens_before, booking.start + window.closes_after


def usage_policy() -> UsagePolicy:
    """The park's usage policy (created with its defaults on first use)."""
    policy, _created = UsagePolicy.objects.get_or_create(pk=1)
    return policy


def _hours(seconds: float, units: int = 1) -> Decimal:
    return (Decimal(units) * Decimal(str(seconds)) / Decimal(3600)).quantize(Decimal("0.0001"))


def booked_hours(booking: Booking) -> Decimal:
    return _hours((booking.end - booking.start).total_seconds(), booking.units)


def _fmt(value: dt.datetime) -> str:
    return timezone.localtime(value).strftime("%Y-%m-%d %H:%M")


# --------------------------------------------------------------------------------------------
# Who may act
# --------------------------------------------------------------------------------------------


def is_operator(user) -> bool:
    return bool(user.is_authenticated and (user.is_superuser or user.is_staff))


def check_may_act(*, user, booking: Booking) -> None:
    """The owner, a manager of the booking's tenant or an operator may check a booking in or
    out. A member of the same tenant is refused (``not_owner``); anyone else gets 404."""
    if booking.user_id == user.pk or is_operator(user):
        return
    roles = set(
        Membership.objects.filter(user=user, tenant_id=booking.tenant_id).values_list(
            "role", flat=True
        )
    )
    if Membership.Role.MANAGER in roles:
        return
    if roles:
        raise Forbidden(
            "not_owner",
            _("Only its owner or a manager of the tenant may check it in or out."),
            field="booking",
        )
    raise NotFound("booking", field="booking")


# --------------------------------------------------------------------------------------------
# Check-in and check-out
# --------------------------------------------------------------------------------------------


@dataclass
class CheckOut:
    booking: Booking
    freed: bool  # the booking was shortened: the rest goes back to the calendar and waitlist


def booking_check_in(*, user, booking: Booking, now: dt.datetime | None = None) -> Booking:
    """Check a confirmed booking in: CONFIRMED → IN_USE, recording who and when.

    In: the acting ``user`` (owner, tenant manager or operator), the ``booking``, ``now``.
    Out: the booking, in use, with its ``BookingUsage`` row.
    Raises ``NotFound``/``Forbidden`` (see ``check_may_act``); ``already_checked_in`` (409),
    ``not_confirmed`` (409), ``check_in_not_used`` (400, a resource measured without
    check-in), ``check_in_not_open`` (400, too early) or ``check_in_closed`` (400, the window
    has passed). Nothing is written on refusal.
    """
    now = now or timezone.now()
    check_may_act(user=user, booking=booking)
    if booking.status == BookingStatus.IN_USE:
        raise Conflict("already_checked_in", _("It is already checked in."), field="booking")
    if booking.status != BookingStatus.CONFIRMED:
        raise Conflict(
            "not_confirmed",
            _("Only a confirmed booking can be checked in; this one is %(status)s."),
            params={"status": BookingStatus(booking.status).label.lower()},
            field="booking",
        )
    window = window_for(booking.resource)
    if not window.required:
        raise ParkError(
            "check_in_not_used",
            _("%(name)s is measured without check-in."),
            params={"name": booking.resource.name},
            field="booking",
        )
    opens, closes = check_in_times(booking=booking, window=window)
    if now < opens:
        raise ParkError(
            "check_in_not_open",
            _("Check-in opens at %(opens)s."),
            params={"opens": _fmt(opens)},
            field="booking",
        )
    if now > closes:
        raise ParkError(
            "check_in_closed",
            _("Check-in closed at %(closes)s."),
            params={"closes": _fmt(closes)},
            field="booking",
        )
    with transaction.atomic():
        booking = booking_transition(
            booking=booking, to_status=BookingStatus.IN_USE, actor=user, note="checked in"
        )
        BookingUsage.objects.update_or_create(
            booking=booking,
            defaults={
                "source": UsageSource.CHECK_IN,
                "checked_in_at": now,
                "checked_in_by": user,
            },
        )
    return booking


def _ceil_to_slot(value: dt.datetime, slot_minutes: int) -> dt.datetime:
    local = timezone.localtime(value)
    midnight = local.replace(hour=0, minute=0, second=0, microsecond=0)
    minutes = (local - midnight).total_seconds() / 60
    steps = math.ceil(minutes / slot_minutes - 1e-9)
    return midnight + dt.timedelta(minutes=steps * slot_minutes)


def booking_check_out(*, user, booking: Booking, now: dt.datetime | None = None) -> CheckOut:
    """Check a booking out: IN_USE → COMPLETED, recording the hours used.

    An early check-out gives the rest back: the booking ends at the next slot boundary after
    ``now`` (at least one slot after its start), its booked end is kept on the usage row, and
    ``freed`` tells the caller to offer the time to the waitlist.
    Raises ``NotFound``/``Forbidden`` and ``not_checked_in`` (409). Nothing is written then.
    """
    now = now or timezone.now()
    check_may_act(user=user, booking=booking)
    if booking.status != BookingStatus.IN_USE:
        raise Conflict("not_checked_in", _("It is not checked in."), field="booking")
    with transaction.atomic():
        usage = BookingUsage.objects.select_for_update().get(booking=booking)
        changes = {}
        freed = False
        out_at = min(now, booking.end)
        if now < booking.end:
            slot = booking.resource.slot_minutes
            new_end = max(_ceil_to_slot(now, slot), booking.start + dt.timedelta(minutes=slot))
            if new_end < booking.end:
                changes["end"] = new_end
                usage.booked_end = booking.end
                freed = True
        booking = booking_transition(
            booking=booking,
            to_status=BookingStatus.COMPLETED,
            actor=user,
            note="checked out early" if freed else "checked out",
            **changes,
        )
        checked_in = usage.checked_in_at or booking.start
        usage.checked_out_at = max(out_at, checked_in)
        usage.checked_out_by = user
        usage.used_hours = _hours(
            (usage.checked_out_at - checked_in).total_seconds(), booking.units
        )
        _apply_run_record(usage, booking)
        usage.charged_hours = usage.used_hours
        usage.closed_at = now
        usage.save()
    return CheckOut(booking=booking, freed=freed)


def _apply_run_record(usage: BookingUsage, booking: Booking) -> None:
    """A line run's recorded times are the truth for the line's usage."""
    run = LineRun.objects.filter(booking_id=booking.pk).first()
    if run is not None:
        usage.source = UsageSource.RUN_RECORD
        usage.used_hours = _hours((run.actual_end - run.actual_start).total_seconds())


# --------------------------------------------------------------------------------------------
# Line run records
# --------------------------------------------------------------------------------------------


def line_run_complete(
    *,
    user,
    booking: Booking,
    actual_start: dt.datetime,
    actual_end: dt.datetime,
    recipe: Recipe | None = None,
    lots: str = "",
    wafers: int = 0,
    notes: str = "",
) -> LineRun:
    """A technician (park staff) records what a pilot-line booking really ran.

    The run's times become the booking's used (and, once closed, charged) hours.
    Raises ``NotFound`` for a non-staff user, ``not_a_line`` (400), ``run_not_started``
    (409, the booking was never confirmed or is cancelled), ``actual_end`` before start (400).
    """
    if not is_operator(user):
        raise NotFound("booking", field="booking")
    if booking.resource is None or booking.resource.kind != ResourceKind.PILOT_LINE:
        raise ParkError("not_a_line", _("Run records are kept for pilot lines."), field="booking")
    if booking.status not in (
        BookingStatus.CONFIRMED,
        BookingStatus.IN_USE,
        BookingStatus.COMPLETED,
    ):
        raise Conflict(
            "run_not_started",
            _("A %(status)s booking has no run to record."),
            params={"status": BookingStatus(booking.status).label.lower()},
            field="booking",
        )
    if actual_end <= actual_start:
        raise ParkError(
            "end_before_start",
            _("The end must be after the start."),
            field="actual_end",
        )
    if recipe is not None and recipe.line_id != booking.resource_id:
        raise ParkError("recipe_unknown", _("Not a recipe of this line."), field="recipe")
    with transaction.atomic():
        run, _created = LineRun.objects.update_or_create(
            booking=booking,
            defaults={
                "technician": user,
                "actual_start": actual_start,
                "actual_end": actual_end,
                "recipe": recipe or booking.recipe,
                "lots": lots[:200],
                "wafers": wafers,
                "notes": notes,
            },
        )
        usage = BookingUsage.objects.select_for_update().filter(booking=booking).first()
        if usage is not None:
            _apply_run_record(usage, booking)
            if usage.closed_at is not None:
                usage.charged_hours = usage.used_hours
            usage.save()
    return run


# --------------------------------------------------------------------------------------------
# The periodic sweep: no-shows, bookings still in use at their end, ended GPU bookings
# --------------------------------------------------------------------------------------------


@dataclass
class Sweep:
    no_shows: list[int] = field(default_factory=list)
    closed_at_end: list[int] = field(default_factory=list)
    completed: list[int] = field(default_factory=list)

    def freed(self) -> list[int]:
        return list(self.no_shows)


def _windows(resource_ids) -> dict[int, Window]:
    rules = CheckInRule.objects.filter(resource_id__in=resource_ids)
    return {r.resource_id: _window_of_rule(r) for r in rules}


def usage_close_due(*, now: dt.datetime | None = None, batch: int = 500) -> Sweep:
    """Close what time has decided (no-shows in batches of ``batch``, one transaction each;
    the others one booking at a time):

    - a confirmed booking that needs a check-in and has none by the end of its window →
      NO_SHOW (its slot is free again), charged at its booked hours if the policy says so;
    - a booking still checked in at its end → COMPLETED at its end, flagged ``closed_at_end``;
    - an ended booking that needs no check-in (GPU) → COMPLETED, used = its jobs' GPU-hours.

    Out: the ids in each group; the caller offers the no-shows' time to the waitlist and sends
    the e-mails. A booking someone changed meanwhile (``status_changed``) is left alone.
    """
    now = now or timezone.now()
    sweep = Sweep()
    charged = usage_policy().no_show_charged
    # Only bookings that have started can be due; every one still confirmed is a candidate.
    # Plain values, not model instances: at sweep sizes building instances dominates.
    rows = list(
        Booking.objects.filter(status=BookingStatus.CONFIRMED, start__lte=now)
        .order_by("start", "pk")
        .values_list("pk", "resource_id", "resource__kind", "start", "end", "units")
    )
    windows = _windows({row[1] for row in rows})
    ended_unmeasured, due = [], []
    for pk, resource_id, kind, start, end, units in rows:
        window = windows.get(resource_id) or default_window(kind)
        if window.required:
            if start + window.closes_after < now:
                due.append((pk, start, end, units))
        elif end <= now:
            ended_unmeasured.append(pk)
    for i in range(0, len(due), batch):
        sweep.no_shows += _release_no_shows(due[i : i + batch], now=now, charged=charged)
    gpu_bookings = list(Booking.objects.filter(pk__in=ended_unmeasured).select_related("resource"))
    job_hours = _job_gpu_hours([b.pk for b in gpu_bookings])
    for b in gpu_bookings:
        if _close(b, BookingStatus.COMPLETED, now=now, used=job_hours.get(b.pk, Decimal(0))):
            sweep.completed.append(b.pk)
    in_use = Booking.objects.filter(status=BookingStatus.IN_USE, end__lte=now).select_related(
        "resource"
    )
    for b in in_use:
        if _close(b, BookingStatus.COMPLETED, now=now, at_end=True):
            sweep.closed_at_end.append(b.pk)
    return sweep


def _release_no_shows(due: list[tuple], *, now: dt.datetime, charged: bool) -> list[int]:
    """One batch of no-shows ``(pk, start, end, units)`` in one transaction: the status change
    (``bookings_transition_many``, which skips any booking changed meanwhile) and a usage row
    for each."""
    by_pk = {row[0]: row for row in due}
    with transaction.atomic():
        released = bookings_transition_many(
            booking_ids=list(by_pk),
            from_status=BookingStatus.CONFIRMED,
            to_status=BookingStatus.NO_SHOW,
            note="no-show: not checked in by the end of the check-in window",
        )
        # A confirmed booking has no usage row yet; one left by an operator's edit is replaced.
        BookingUsage.objects.filter(booking_id__in=released).delete()
        rows = []
        for pk in released:
            _pk, start, end, units = by_pk[pk]
            hours = _hours((end - start).total_seconds(), units) if charged else Decimal(0)
            rows.append((pk, UsageSource.NO_SHOW, True, False, Decimal(0), hours, now))
        insert_rows(
            BookingUsage,
            [
                "booking_id",
                "source",
                "no_show",
                "closed_at_end",
                "used_hours",
                "charged_hours",
                "closed_at",
            ],
            rows,
        )
    return released


def _job_gpu_hours(booking_ids: list[int]) -> dict[int, Decimal]:
    if not booking_ids:
        return {}
    ended = (
        ComputeJob.objects.filter(booking_id__in=booking_ids)
        .exclude(state__in=LIVE_JOB_STATES)
        .values("booking_id")
        .annotate(h=Sum("gpu_hours"))
        .order_by()
    )
    return {row["booking_id"]: row["h"] or Decimal(0) for row in ended}


def _close(
    booking: Booking,
    to_status: str,
    *,
    now: dt.datetime,
    used: Decimal | None = None,
    at_end: bool = False,
) -> bool:
    """One booking completed by the sweep with its usage row; False if it changed meanwhile."""
    try:
        with transaction.atomic():
            note = "closed at its end: still checked in" if at_end else "ended"
            booking_transition(booking=booking, to_status=to_status, actor=None, note=note)
            if at_end:
                usage = BookingUsage.objects.filter(booking=booking).first() or BookingUsage(
                    booking=booking, source=UsageSource.CHECK_IN
                )
                checked_in = usage.checked_in_at or booking.start
                usage.checked_out_at = max(booking.end, checked_in)
                usage.closed_at_end = True
                usage.used_hours = _hours(
                    (usage.checked_out_at - checked_in).total_seconds(), booking.units
                )
                _apply_run_record(usage, booking)
                usage.charged_hours = usage.used_hours
                usage.closed_at = now
                usage.save()
            else:
                BookingUsage.objects.update_or_create(
                    booking=booking,
                    defaults={
                        "source": UsageSource.JOBS,
                        "used_hours": used,
                        "charged_hours": used,
                        "closed_at": now,
                    },
                )
    except Conflict:
        return False
    return True
