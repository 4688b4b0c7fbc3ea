"""What-if previews: re-plan a solved round with other weights or quotas; nothing is stored."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

from django.utils.translation import gettext as _

import scheduler
from booking.bookings.models import Booking
from booking.errors import Conflict, NotFound
from booking.rounds.lifecycle import Status
from booking.rounds.models import AllocationRound
from booking.rounds.outcomes import Outcome, outcomes_from_plan, stored_problem
from booking.rounds.requests import _err
from booking.tenancy.models import Tenant
from resources.models import (
    ResourceKind,
)

# What-if previews run while the operator waits for the page.
WHAT_IF_TIME_LIMIT = 10.0


@dataclass(frozen=True)
class OutcomeChange:
    """A request whose outcome differs under the changed weights or quotas."""

    booking: Booking
    before: Outcome
    after: Outcome

    @property
    def kind(self) -> str:
        """``gained`` / ``lost`` (granted or not), ``moved`` (granted at another time or place),
        ``reason`` (still not granted, for another reason)."""
        if self.after.granted != self.before.granted:
            return "gained" if self.after.granted else "lost"
        return "moved" if self.after.granted else "reason"


def _tenant_slug(key) -> str:
    if isinstance(key, Tenant):
        return key.slug
    if isinstance(key, int):
        slug = Tenant.objects.filter(pk=key).values_list("slug", flat=True).first()
        if slug is None:
            raise NotFound("tenant", field="tenant")
        return slug
    return str(key)


def round_what_if(
    *,
    allocation_round: AllocationRound,
    weights: Mapping | None = None,
    quotas: Mapping | None = None,
    time_limit: float | None = None,
) -> list[OutcomeChange]:
    """Re-plan a solved round with changed weights and/or quotas; nothing is stored.

    ``weights``: ``{tenant: weight}``; ``quotas``: ``{tenant: {resource_class: hours or None}}``
    (hours left for the round; ``None`` lifts the cap). Tenants are ``Tenant`` objects, ids or
    slugs. Out: the requests whose outcome (granted or not, where, when) changes, compared with
    the stored plan.
    """
    rnd = AllocationRound.objects.get(pk=allocation_round.pk)
    stored = stored_problem(rnd)
    if stored is None or rnd.status not in (Status.SOLVED, Status.PUBLISHED):
        raise Conflict(
            "round_not_solved", _("round: run the planner before a what-if."), field="round"
        )
    problem, base = stored
    in_round = {t.id for t in problem.tenants}
    slot = problem.slot_minutes
    new_weights: dict[str, float] = {}
    for key, value in (weights or {}).items():
        slug = _tenant_slug(key)
        try:
            w = float(Decimal(str(value)))
        except (InvalidOperation, ValueError):
            raise _err("bad_weight", f"weights[{slug}]", _("weight: must be a number.")) from None
        if not w > 0 or w != w or w == float("inf"):
            raise _err("bad_weight", f"weights[{slug}]", _("weight: must be above 0."))
        if slug in in_round:
            new_weights[slug] = w
    new_quotas: dict[str, dict[str, int | None]] = {}
    for key, per_class in (quotas or {}).items():
        slug = _tenant_slug(key)
        for cls, hours in (per_class or {}).items():
            if cls not in ResourceKind.values:
                raise _err(
                    "bad_resource_class", f"quotas[{slug}]", _("quota: unknown resource class.")
                )
            if hours is None:
                slots = None
            else:
                try:
                    h = Decimal(str(hours))
                except InvalidOperation:
                    raise _err(
                        "bad_quota", f"quotas[{slug}]", _("quota: must be a number.")
                    ) from None
                if not h.is_finite() or h < 0:
                    raise _err("bad_quota", f"quotas[{slug}]", _("quota: must be 0 or more hours."))
                slots = int(h * 60 // slot)
            if slug in in_round:
                new_quotas.setdefault(slug, {})[cls] = slots
    limit = time_limit or min(float(rnd.time_limit_seconds), WHAT_IF_TIME_LIMIT)
    result = scheduler.what_if(
        problem,
        weights=new_weights,
        quotas=new_quotas,
        base=base,
        time_limit=limit,
        workers=2,
        seed=0,
    )
    bookings = {
        str(b.pk): b
        for b in Booking.objects.filter(
            pk__in=[int(q.id) for q in problem.requests]
        ).select_related("tenant", "user", "resource", "pool")
    }
    names = (rnd.plan or {}).get("resource_names", {})
    present = {k: v for k, v in bookings.items()}
    if len(present) != len(problem.requests):
        # A request deleted since the plan: compare only those still there.
        problem = problem.replace(requests=tuple(q for q in problem.requests if q.id in present))
    before = outcomes_from_plan(problem=problem, plan=base, bookings=present, resource_names=names)
    after = outcomes_from_plan(
        problem=problem, plan=result.changed, bookings=present, resource_names=names
    )
    changes = []
    for q in problem.requests:
        pk = int(q.id)
        if before[pk].summary() != after[pk].summary():
            changes.append(OutcomeChange(bookings[q.id], before[pk], after[pk]))
    # What an operator weighs first: who would gain or lose a booking; then mere moves.
    order = {"gained": 0, "lost": 1, "moved": 2, "reason": 3}
    changes.sort(key=lambda c: (order[c.kind], c.booking.tenant.name, c.booking.pk))
    return changes
