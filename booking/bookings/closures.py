"""Park-wide closures: an operator closes many resources at once (a building, a kind, or
everything) — a public holiday, typhoon signal No. 8, a black rainstorm.

The rule for the bookings it covers: every booking holding time inside the closure that has not
started (confirmed) is cancelled with the closure as its reason, and its owner gets the
cancellation e-mail in their own language with that reason; a booking already running is left
to its users and the operator (the closure says the building is shut, the kiosk check-out ends
it). Round requests are not cancelled: the planner treats the closure as maintenance and plans
around it. New bookings inside the closure are refused as maintenance.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from django.db import transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext as _

from booking.bookings.models import Booking, BookingStatus
from booking.bookings.notifications import notify_bookings
from booking.bookings.reasons import register_reason_renderer
from booking.bookings.services import booking_transition
from booking.errors import ParkError
from booking.formats import when_text
from resources.models import Closure, Location, MaintenanceWindow, Resource

CLOSURE_REASON = "closure"


@dataclass
class ClosureResult:
    closure: Closure
    resources: list[Resource] = field(default_factory=list)
    cancelled: list[int] = field(default_factory=list)


def closure_resources(*, location: Location | None, kind: str = ""):
    """The resources a closure covers: inside ``location`` (any depth), of ``kind``, or all."""
    qs = Resource.objects.all()
    if kind:
        qs = qs.filter(kind=kind)
    if location is not None:
        loc = location.pk
        qs = qs.filter(
            Q(location_id=loc)
            | Q(location__parent_id=loc)
            | Q(location__parent__parent_id=loc)
            | Q(location__parent__parent__parent_id=loc)
        )
    return qs.order_by("pk")


def closure_declare(
    *,
    actor,
    reason: str,
    start: dt.datetime,
    end: dt.datetime,
    location: Location | None = None,
    kind: str = "",
    now: dt.datetime | None = None,
) -> ClosureResult:
    """Close the covered resources over [``start``, ``end``): one maintenance window per
    resource, the covered bookings cancelled (see the module's rule) and their owners told once
    it commits. Operators only. All or nothing (one transaction)."""
    now = now or timezone.now()
    if not getattr(actor, "is_superuser", False):
        raise ParkError("operators_only", _("Only operators declare closures."), status=403)
    reason = (reason or "").strip()[:200]
    if not reason:
        raise ParkError("reason_required", _("Say why the park closes."), field="reason")
    if start is None or end is None or end <= start:
        raise ParkError("end_before_start", _("The end must be after the start."), field="end")
    with transaction.atomic():
        closure = Closure.objects.create(
            reason=reason, start=start, end=end, location=location, kind=kind or ""
        )
        resources = list(
            closure_resources(location=location, kind=kind).select_for_update(of=("self",))
        )
        MaintenanceWindow.objects.bulk_create(
            [
                MaintenanceWindow(resource=r, start=start, end=end, reason=reason, closure=closure)
                for r in resources
            ]
        )
        covered = Booking.objects.filter(
            resource__in=resources,
            status__in=(BookingStatus.CONFIRMED, BookingStatus.PENDING_APPROVAL),
            start__lt=end,
            end__gt=start,
            start__gt=now,
        ).order_by("start", "pk")
        cancelled = []
        for booking in covered:
            booking_transition(
                booking=booking,
                to_status=BookingStatus.CANCELLED,
                actor=actor,
                note=f"closure {closure.pk}",
                reason_code=CLOSURE_REASON,
                reason_text=_("The park is closed from %(start)s to %(end)s: %(reason)s")
                % {"start": when_text(start), "end": when_text(end), "reason": reason},
            )
            cancelled.append(booking.pk)
        transaction.on_commit(lambda: notify_bookings((pk, "cancelled") for pk in cancelled))
    return ClosureResult(closure=closure, resources=resources, cancelled=cancelled)


def _closure_reason(booking) -> str:
    # In the reader's language: the closure's times and the operator's own words.
    closure = Closure.objects.filter(
        windows__resource_id=booking.resource_id, start__lt=booking.end, end__gt=booking.start
    ).first()
    if closure is None:
        return booking.reason_text
    return _("The park is closed from %(start)s to %(end)s: %(reason)s") % {
        "start": when_text(closure.start),
        "end": when_text(closure.end),
        "reason": closure.reason,
    }


def register() -> None:
    register_reason_renderer([CLOSURE_REASON], _closure_reason)
