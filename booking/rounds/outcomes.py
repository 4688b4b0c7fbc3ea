"""A plan read as per-booking outcomes with reason codes and parameters (``rounds.reasons`` turns
those into words), and the outcomes kept with a solved round.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, field

from django.utils.translation import gettext as _

import scheduler
from booking.bookings.approval import approval_needed
from booking.bookings.models import HOLDING_STATUSES, Booking, BookingStatus
from booking.bookings.rules import slot_errors
from booking.bookings.services import booking_transition
from booking.errors import Conflict
from booking.formats import when_text
from booking.rounds.models import AllocationRound
from booking.rounds.reasons import FINAL_CODES, reason_text_stored
from resources.availability import peak_units
from resources.models import Resource, ResourceKind

# Reason codes of the solver under which the request may still be granted later (waitlist).
GRANTED_CODES = ("granted", "moved", "promoted")


@dataclass(frozen=True)
class Outcome:
    """What the planner decided for one booking, with the parameters its reason text needs."""

    booking_id: int
    granted: bool
    code: str
    params: dict = field(default_factory=dict)
    resource: str | None = None  # slug of the resource granted
    start: dt.datetime | None = None
    end: dt.datetime | None = None

    @property
    def final(self) -> bool:
        """Refused for good (never fits): REFUSED rather than WAITLISTED."""
        return not self.granted and self.code in FINAL_CODES

    def as_json(self) -> dict:
        return {
            "granted": self.granted,
            "code": self.code,
            "params": self.params,
            "resource": self.resource,
            "start": self.start.isoformat() if self.start else None,
            "end": self.end.isoformat() if self.end else None,
        }

    @classmethod
    def from_json(cls, booking_id: int, data: Mapping) -> Outcome:
        return cls(
            booking_id=int(booking_id),
            granted=bool(data["granted"]),
            code=data["code"],
            params=dict(data.get("params") or {}),
            resource=data.get("resource"),
            start=dt.datetime.fromisoformat(data["start"]) if data.get("start") else None,
            end=dt.datetime.fromisoformat(data["end"]) if data.get("end") else None,
        )

    def summary(self) -> tuple:
        """What a person would call "the outcome": granted where and when, or the reason."""
        if self.granted:
            return (True, self.resource, self.start, self.end)
        return (False, self.code)


def outcomes_from_plan(
    *,
    problem: scheduler.Problem,
    plan: scheduler.Plan,
    bookings: Mapping[str, Booking],
    resource_names: Mapping[str, str],
) -> dict[int, Outcome]:
    """Each request's outcome, with the figures its reason needs (in hours, not slots)."""
    slot = problem.slot_minutes

    def hours(x):
        return round(x * slot / 60, 2)

    share = (plan.figures or {}).get("share", {})
    floor = (plan.figures or {}).get("floor", 0.0)
    classes = {r.id: r.resource_class for r in problem.resources}
    granted_use: dict[tuple[str, str], int] = {}
    for rid, a in plan.assignments.items():
        if a.granted:
            q = problem.request_by_id[rid]
            key = (q.tenant, classes[q.resources[0]])
            granted_use[key] = granted_use.get(key, 0) + q.usage
    out: dict[int, Outcome] = {}
    for q in problem.requests:
        a = plan.assignments.get(q.id)
        b = bookings[q.id]
        cls = classes[q.resources[0]]
        if a is None:
            out[b.pk] = Outcome(b.pk, False, "not_planned", {"resource_class": cls})
            continue
        if a.granted:
            start = scheduler.to_datetime(a.start, problem.round_start, slot)
            end = start + dt.timedelta(minutes=b.duration_minutes)
            slug = a.resources[0]
            code = "moved" if a.start > q.earliest else "granted"
            params = {
                "resource": resource_names.get(slug, slug),
                "start": start.isoformat(),
                "end": end.isoformat(),
            }
            out[b.pk] = Outcome(b.pk, True, code, params, slug, start, end)
            continue
        code = a.reason
        params: dict = {"resource_class": cls}
        if code == "quota_exhausted":
            quota = problem.tenant_by_id[q.tenant].quota(cls) or 0
            if q.usage > quota:
                code = "quota_exceeds_round"
            params.update(
                quota=hours(quota),
                used=hours(granted_use.get((q.tenant, cls), 0)),
                need=hours(q.usage),
            )
        elif code in ("capacity_to_fairer_share", "capacity_full"):
            params.update(share=share.get(f"{q.tenant}/{cls}", 0.0), floor=floor)
        out[b.pk] = Outcome(b.pk, False, code, params)
    return out


def stored_outcomes(rnd: AllocationRound) -> dict[int, Outcome]:
    """The outcomes kept with a solved round's plan."""
    raw = ((rnd.plan or {}).get("outcomes")) or {}
    return {int(pk): Outcome.from_json(int(pk), data) for pk, data in raw.items()}


def stored_problem(rnd: AllocationRound) -> tuple[scheduler.Problem, scheduler.Plan] | None:
    """The problem and plan as solved, or ``None`` before the round was solved."""
    if not rnd.plan or "problem" not in rnd.plan:
        return None
    return (
        scheduler.problem_from_json(rnd.plan["problem"]),
        scheduler.plan_from_json(rnd.plan["plan"]),
    )


def current_problem(rnd: AllocationRound) -> tuple[scheduler.Problem, scheduler.Plan] | None:
    """The problem and plan of the round's latest re-plan, else as solved (``None`` before)."""
    current = (rnd.plan or {}).get("current")
    if current:
        return (
            scheduler.problem_from_json(current["problem"]),
            scheduler.plan_from_json(current["plan"]),
        )
    return stored_problem(rnd)


def check_free(rnd_outcomes: list[tuple[Booking, Resource, dt.datetime, dt.datetime]]) -> None:
    """Refuse to publish a plan that clashes with bookings made since it was computed.

    Capacity holds in every dimension the planner counts: units (GPUs), and on a GPU node its
    CPUs and memory, counting each booking that states them (0: not stated, not counted, as in
    the planner). PostgreSQL's exclusion constraint would catch capacity-1 clashes too; this
    check also covers GPU capacity and SQLite, and names the clash.
    """
    by_resource: dict[int, list] = {}
    for booking, resource, start, end in rnd_outcomes:
        by_resource.setdefault(resource.pk, []).append((booking, resource, start, end))
    for items in by_resource.values():
        resource = items[0][1]
        lo = min(s for _b, _r, s, _e in items)
        hi = max(e for _b, _r, _s, e in items)
        holding = list(
            Booking.objects.filter(
                resource=resource, status__in=HOLDING_STATUSES, start__lt=hi, end__gt=lo
            )
            .exclude(pk__in=[b.pk for b, _r, _s, _e in items if b.pk])
            .values_list("start", "end", "units", "cpus", "memory_gb")
        )
        rows = holding + [(s, e, b.units, b.cpus, b.memory_gb) for b, _r, s, e in items]
        for dimension, index, have in _dimensions(resource):
            held = [(s, e, row[index]) for s, e, *row in rows]
            for _booking, _r, start, end in items:
                if peak_units(held, start, end) > have:
                    raise Conflict(
                        "plan_stale",
                        _(
                            "%(resource)s has been booked at %(start)s since the plan was made "
                            "(%(dimension)s over its %(have)s); run the planner again."
                        ),
                        params={
                            "resource": resource.name,
                            "start": when_text(start),
                            "dimension": dimension,
                            "have": have,
                        },
                        field="round",
                    )


def _dimensions(resource: Resource) -> list[tuple[str, int, int]]:
    """(name, index in a row's (units, cpus, memory_gb), capacity) of each dimension counted."""
    out = [(_("units"), 0, resource.capacity)]
    node = getattr(resource, "gpu", None) if resource.kind == ResourceKind.GPU_NODE else None
    if node is not None:
        out += [(_("CPUs"), 1, node.cpus), (_("memory (GB)"), 2, node.memory_gb)]
    return out


def check_on_grid(rnd_outcomes: list[tuple[Booking, Resource, dt.datetime, dt.datetime]]) -> None:
    """Refuse a plan that puts a booking off its resource's own time grid: the same rule
    (``not_on_slot``) an instant booking of that resource is checked against."""
    for _booking, resource, start, end in rnd_outcomes:
        if slot_errors(resource, start, end):
            raise Conflict(
                "plan_off_grid",
                _(
                    "%(resource)s takes bookings in steps of %(slot)s minutes, but the plan "
                    "has one from %(start)s; run the planner again."
                )
                % {
                    "resource": resource.name,
                    "slot": resource.slot_minutes,
                    "start": when_text(start),
                },
                field="round",
            )


def booking_apply_outcome(
    *,
    booking: Booking,
    outcome: Outcome,
    resource: Resource | None,
    actor=None,
    note: str = "",
    code: str | None = None,
) -> Booking:
    """Write the planner's decision on a request: granted → CONFIRMED on ``resource`` at the
    outcome's times, else REFUSED (the reason means it can never fit) or WAITLISTED; the reason
    ``code`` (default the outcome's; the waitlist says ``promoted``) and its parameters stored
    with it. The one copy used by publishing and by the waitlist.

    On a resource that needs approval (``bookings.approval``) a grant is PENDING_APPROVAL
    instead: it holds the planned slot and waits for the approvers like an instant booking;
    the planner's reason stays with it."""
    code = code or outcome.code
    text = reason_text_stored(code, outcome.params)
    if outcome.granted:
        waits = approval_needed(resource=resource, tenant=booking.tenant, recipe=booking.recipe)
        return booking_transition(
            booking=booking,
            to_status=BookingStatus.PENDING_APPROVAL if waits else BookingStatus.CONFIRMED,
            actor=actor,
            note=note,
            resource=resource,
            start=outcome.start,
            end=outcome.end,
            reason_code=code,
            reason_text=text,
        )
    to = BookingStatus.REFUSED if outcome.final else BookingStatus.WAITLISTED
    return booking_transition(
        booking=booking, to_status=to, actor=actor, note=note, reason_code=code, reason_text=text
    )
