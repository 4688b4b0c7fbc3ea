"""Park-wide closures: an operator closes many resources at once (a building, a kind, or
everything) — a public holiday, typhoon signal No. 8, a black rainstorm.

The rule for the bookings it covers: every booking holding time inside the closure that has not
started (confirmed) is, by the closure's handling,
- ``cancel`` (the default): cancelled with the closure as its reason, and its owner offered the
  first free time of the same length on the same resource after the closure (named in the
  cancellation e-mail and on the booking, in their own language; the time is offered, not held);
- ``move``: moved to that first free time when every booking rule allows it there (its owner's
  quota, trainings, opening hours; ``booking_change``), with the "moved" e-mail; one that cannot
  move within ``PARK_CLOSURE_MOVE_DAYS`` is cancelled as above.
A booking already running is left to its users and the operator (the closure says the building
is shut, the kiosk check-out ends it). Round requests are not cancelled: the planner treats the closure as maintenance and plans
around it. New bookings inside the closure are refused as maintenance.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from django.db import transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext as _

from booking.bookings.changes import booking_change
from booking.bookings.closure_moves import free_slots_after
from booking.bookings.models import Booking, BookingEvent, BookingStatus
from booking.bookings.notifications import notify_bookings
from booking.bookings.reasons import register_reason_renderer
from booking.bookings.services import booking_transition
from booking.errors import BookingRefused, Conflict, ParkError
from booking.formats import when_text
from resources.models import Closure, Location, MaintenanceWindow, Resource

CLOSURE_REASON = "closure"
CLOSURE_MOVED_REASON = "closure_moved"


@dataclass
class ClosureResult:
    closure: Closure
    resources: list[Resource] = field(default_factory=list)
    cancelled: list[int] = field(default_factory=list)
    moved: list[int] = field(default_factory=list)


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
    handling: str = Closure.Handling.CANCEL,
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
    if handling not in Closure.Handling.values:
        raise ParkError(
            "handling_unknown",
            _("Choose what happens to the bookings it covers: %(choices)s.")
            % {"choices": ", ".join(Closure.Handling.values)},
            field="handling",
        )
    with transaction.atomic():
        closure = Closure.objects.create(
            reason=reason,
            start=start,
            end=end,
            location=location,
            kind=kind or "",
            handling=handling,
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
        covered = (
            Booking.objects.filter(
                resource__in=resources,
                status__in=(BookingStatus.CONFIRMED, BookingStatus.PENDING_APPROVAL),
                start__lt=end,
                end__gt=start,
                start__gt=now,
            )
            .select_related("resource")
            .order_by("start", "pk")
        )
        cancelled, moved = [], []
        for booking in covered:
            offers = free_slots_after(
                resource=booking.resource,
                duration=booking.end - booking.start,
                after=end,
                units=booking.units,
                exclude_booking_id=booking.pk,
            )
            if handling == Closure.Handling.MOVE and _move(closure, booking, offers, actor, now):
                moved.append(booking.pk)
                continue
            offer = next(iter(offers), None)
            note = f"closure {closure.pk}"
            if offer is not None:
                note += f" offer {offer[0].isoformat()} {offer[1].isoformat()}"
            booking_transition(
                booking=booking,
                to_status=BookingStatus.CANCELLED,
                actor=actor,
                note=note,
                reason_code=CLOSURE_REASON,
                reason_text=_closed_text(closure),
            )
            cancelled.append(booking.pk)
        transaction.on_commit(lambda: notify_bookings((pk, "cancelled") for pk in cancelled))
    return ClosureResult(closure=closure, resources=resources, cancelled=cancelled, moved=moved)


def _move(closure: Closure, booking: Booking, offers, actor, now: dt.datetime) -> bool:
    """Move ``booking`` to the first of ``offers`` every booking rule allows (one savepoint
    per try, so a refused try leaves nothing); True when it moved."""
    for offer_start, offer_end in offers:
        try:
            with transaction.atomic():
                booking_change(
                    user=actor, booking=booking, start=offer_start, end=offer_end, now=now
                )
        except (BookingRefused, Conflict, ParkError):
            continue
        Booking.objects.filter(pk=booking.pk).update(
            reason_code=CLOSURE_MOVED_REASON, reason_text=_moved_text(closure)
        )
        return True
    return False


def _closure_reason(booking) -> str:
    # In the reader's language: the closure's times, the operator's own words and, for a
    # cancelled booking, the time it was offered instead.
    closure = Closure.objects.filter(
        windows__resource_id=booking.resource_id, start__lt=booking.end, end__gt=booking.start
    ).first()
    if closure is None:
        return booking.reason_text
    text = _closed_text(closure)
    offer = _offer_of(booking)
    if offer is not None:
        text += " " + _(
            "The first free time of the same length afterwards is %(start)s – %(end)s; "
            "book it again if it suits you."
        ) % {"start": when_text(offer[0]), "end": when_text(offer[1])}
    return text


def _offer_of(booking) -> tuple[dt.datetime, dt.datetime] | None:
    note = (
        BookingEvent.objects.filter(booking_id=booking.pk, note__contains=" offer ")
        .order_by("-pk")
        .values_list("note", flat=True)
        .first()
    )
    if not note:
        return None
    try:
        _head, times = note.split(" offer ", 1)
        first, second = times.split()
        return dt.datetime.fromisoformat(first), dt.datetime.fromisoformat(second)
    except ValueError:
        return None


def _moved_reason(booking) -> str:
    closure = (
        Closure.objects.filter(windows__resource_id=booking.resource_id, end__lte=booking.start)
        .order_by("-end")
        .first()
    )
    if closure is None:
        return booking.reason_text
    return _moved_text(closure)


def _closure_params(closure: Closure) -> dict:
    return {
        "start": when_text(closure.start),
        "end": when_text(closure.end),
        "reason": closure.reason,
    }


def _closed_text(closure: Closure) -> str:
    """Why a covered booking was cancelled, in the active language."""
    return _("The park is closed from %(start)s to %(end)s: %(reason)s") % _closure_params(closure)


def _moved_text(closure: Closure) -> str:
    """Why a covered booking was moved, in the active language."""
    return _("Moved out of the park's closure from %(start)s to %(end)s: %(reason)s") % (
        _closure_params(closure)
    )


def register() -> None:
    register_reason_renderer([CLOSURE_REASON], _closure_reason)
    register_reason_renderer([CLOSURE_MOVED_REASON], _moved_reason)
