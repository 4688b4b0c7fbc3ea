"""Instant bookings: creation, cancellation and the one place where a booking's status changes.

Lock order (every writer that takes more than one row lock follows it, so concurrent writers
never deadlock each other): Resource → Tenant → Booking.
"""

from __future__ import annotations

import datetime as dt

from django.db import IntegrityError, OperationalError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from booking.bookings.approval import APPROVAL_PENDING, approval_needed
from booking.bookings.hooks import booking_cancelled
from booking.bookings.models import TRANSITIONS, Booking, BookingEvent, BookingStatus
from booking.bookings.notifications import notify_booking
from booking.bookings.rules import booking_check, cancel_refusal
from booking.bulk import insert_rows
from booking.errors import BookingRefused, Conflict, Forbidden, NotFound, ParkError
from booking.tenancy.access import is_member, may_act_for
from booking.tenancy.models import Tenant
from resources.models import Recipe, Resource


def _slot_taken() -> Conflict:
    return Conflict(
        "slot_taken",
        _("This slot has just been taken by another booking; choose another time."),
        field="start",
    )


# Fields a status change may set at the same time (e.g. the planner's times and reason).
TRANSITION_FIELDS = {"start", "end", "resource", "reason_code", "reason_text", "units"}


def _check_transition(from_status: str, to_status: str) -> None:
    if to_status not in TRANSITIONS.get(from_status, set()):
        raise ParkError(
            "transition_not_allowed",
            _("A booking that is %(old)s cannot become %(new)s."),
            params={
                "old": BookingStatus(from_status).label if from_status else "new",
                "new": BookingStatus(to_status).label,
            },
            field="status",
            status=409,
        )


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
    _check_transition(from_status, to_status)
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
                    _("This booking was changed meanwhile; reload and try again."),
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


def bookings_transition_many(
    *, booking_ids: list[int], from_status: str, to_status: str, note: str = ""
) -> list[int]:
    """The same status change for many bookings at once, by the system (periodic sweeps).

    The rules of ``booking_transition`` hold: the change must be allowed by ``TRANSITIONS``,
    only bookings still in ``from_status`` change (their rows are locked first; others are
    left out) and each gets its ``BookingEvent``. Must run inside a transaction (the caller's
    batch). Out: the ids that changed. Only for changes that free capacity or keep it (never a
    confirmation, which must pass the no-overlap check of one booking at a time).
    """
    _check_transition(from_status, to_status)
    if to_status in (BookingStatus.CONFIRMED, BookingStatus.IN_USE):
        raise ValueError("confirmations go through booking_transition, one at a time")
    if not transaction.get_connection().in_atomic_block:
        raise RuntimeError("bookings_transition_many must run inside transaction.atomic()")
    locked = list(
        Booking.objects.select_for_update()
        .filter(pk__in=booking_ids, status=from_status)
        .order_by("pk")
        .values_list("pk", flat=True)
    )
    if not locked:
        return []
    now = timezone.now()
    Booking.objects.filter(pk__in=locked).update(status=to_status, updated_at=now)
    insert_rows(
        BookingEvent,
        ["booking_id", "from_status", "to_status", "actor_id", "at", "note"],
        [(pk, from_status, to_status, None, now, note[:400]) for pk in locked],
    )
    return locked


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
    series=None,
) -> Booking:
    """Book a free slot of an instant-booked resource; confirmed at once, or held as
    ``PENDING_APPROVAL`` where the resource needs approval (``bookings.approval``).

    In: as ``booking_check`` plus a ``title``. Out: the confirmed (or waiting) ``Booking`` (with
    its creation event); the confirmation (or "waiting for approval") e-mail goes out once the
    transaction commits. ``series`` links an
    occurrence of a recurring booking to its ``BookingSeries`` (whose service then queues one
    e-mail task for all occurrences instead).
    Raises ``BookingRefused`` (a ``ParkError`` holding every broken rule) or
    ``Conflict("slot_taken")`` (409) when a concurrent booking won the slot. Nothing is written
    on refusal.

    Concurrency: the resource row and then the tenant row are locked (``select_for_update``),
    so bookings of one resource, and quota use of one tenant, are checked and written one at a
    time. On PostgreSQL the exclusion constraint refuses overlaps even if a writer skipped the
    lock; on SQLite writers are serialised by IMMEDIATE transactions.
    """
    title = (title or "").strip()
    if not title:
        raise BookingRefused(
            [ParkError("title_required", _("Give the booking a title."), field="title")]
        )
    if len(title) > 200:
        raise BookingRefused(
            [ParkError("title_too_long", _("At most 200 characters."), field="title")]
        )
    if resource.booking_mode != "instant":
        raise BookingRefused(
            [
                ParkError(
                    "round_booked",
                    _("%(name)s is planned in allocation rounds; send a round request."),
                    params={"name": resource.name},
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
            waits = approval_needed(resource=locked, tenant=tenant, recipe=recipe)
            status = BookingStatus.PENDING_APPROVAL if waits else BookingStatus.CONFIRMED
            booking = Booking(
                tenant=tenant,
                user=user,
                resource=locked,
                title=title,
                units=units,
                recipe=recipe,
                start=start,
                end=end,
                status=status,
                reason_code=APPROVAL_PENDING if waits else "",
                exclusive=locked.capacity == 1,
                series=series,
            )
            # The related rows were just read (and locked); re-querying each foreign key would
            # only cost round trips. The database holds the constraints.
            booking.full_clean(
                exclude=["tenant", "user", "resource", "recipe", "series"],
                validate_constraints=False,
            )
            booking.save()
            BookingEvent.objects.create(
                booking=booking,
                from_status="",
                to_status=status,
                actor=user,
                note="instant booking, waiting for approval" if waits else "instant booking",
            )
            if series is None:
                event = "pending_approval" if waits else "confirmed"
                transaction.on_commit(lambda: notify_booking(booking=booking, event=event))
    except IntegrityError:
        raise _slot_taken() from None
    except OperationalError as exc:
        # PostgreSQL sometimes reports the loser of an exclusion-constraint race as a deadlock.
        if "deadlock" in str(exc).lower():
            raise _slot_taken() from None
        raise
    return booking


def booking_cancel(*, user, booking: Booking, now: dt.datetime | None = None) -> Booking:
    """Cancel a booking or round request: its owner, a manager of its tenant, or an operator.

    Refused (nothing changes) for someone else's booking of another tenant (``NotFound``), for a
    member cancelling a colleague's booking (``Forbidden``), once a booking has started
    (``already_started``) or when it is already cancelled or completed
    (``transition_not_allowed``): ``bookings.rules.cancel_refusal``, the one copy of the rule. Writes the event with the actor, mails the owner, and hands
    the freed time to the waitlist when a confirmed booking is cancelled.
    """
    now = now or timezone.now()
    if not may_act_for(user=user, owner_id=booking.user_id, tenant_id=booking.tenant_id):
        if is_member(user=user, tenant_id=booking.tenant_id):
            raise Forbidden(
                "not_owner",
                _("Only its owner or a manager of the tenant may cancel it."),
                field="booking",
            )
        raise NotFound("booking", field="booking")
    refusal = cancel_refusal(booking=booking, now=now)
    if refusal is not None:
        raise refusal
    was_confirmed = booking.status in (BookingStatus.CONFIRMED, BookingStatus.PENDING_APPROVAL)
    with transaction.atomic():
        booking = booking_transition(
            booking=booking, to_status=BookingStatus.CANCELLED, actor=user, note="cancelled"
        )
        transaction.on_commit(lambda: notify_booking(booking=booking, event="cancelled"))
        # The apps above act on the freed time once it is committed (rounds: the waitlist
        # re-plan, in the worker); see bookings.hooks.
        transaction.on_commit(
            lambda: booking_cancelled(
                booking_id=booking.pk, round_id=booking.round_id, was_holding=was_confirmed
            )
        )
    return booking
