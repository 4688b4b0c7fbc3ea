"""What-if previews: re-plan a solved round with other weights or quotas.

The round's plan is never changed. An operator's preview is stored (``WhatIfPreview``) and
planned by a worker (``what_if_preview_run``, from ``rounds.tasks``); the page polls it.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext as _

import scheduler
from booking.bookings.models import Booking
from booking.errors import Conflict, NotFound, ParkError
from booking.rounds.lifecycle import Status
from booking.rounds.models import AllocationRound, WhatIfPreview
from booking.rounds.outcomes import Outcome, outcomes_from_plan, stored_problem
from booking.rounds.requests import _err
from booking.tenancy.models import Tenant
from resources.models import (
    ResourceKind,
)

logger = logging.getLogger(__name__)

# The planner's limit for a preview (the operator's page polls while it runs).
WHAT_IF_TIME_LIMIT = 10.0
# A preview still running (or waiting) after this long lost its worker; it may be run again.
PREVIEW_STALE_AFTER = dt.timedelta(seconds=WHAT_IF_TIME_LIMIT + 60)


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


def what_if_check(
    *, allocation_round: AllocationRound, weights: Mapping | None, quotas: Mapping | None
) -> tuple[scheduler.Problem, scheduler.Plan, dict, dict]:
    """Check a what-if's changes against the round without planning anything.

    Out: the stored problem and plan, the weights ``{slug: weight}`` and the quotas
    ``{slug: {class: slots or None}}`` of the tenants in the round. Raises ``Conflict`` when the
    round has no plan, ``ParkError`` naming the field for a bad weight or quota.
    """
    rnd = allocation_round
    stored = stored_problem(rnd)
    if stored is None or rnd.status not in (Status.SOLVED, Status.PUBLISHED):
        raise Conflict("round_not_solved", _("Run the planner before a what-if."), field="round")
    problem, base = stored
    in_round = {t.id for t in problem.tenants}
    slot = problem.slot_minutes
    new_weights: dict[str, float] = {}
    for key, value in (weights or {}).items():
        slug = _tenant_slug(key)
        try:
            w = float(Decimal(str(value)))
        except (InvalidOperation, ValueError):
            raise _err("bad_weight", f"weights[{slug}]", _("Must be a number.")) from None
        if not w > 0 or w != w or w == float("inf"):
            raise _err("bad_weight", f"weights[{slug}]", _("Must be above 0."))
        if slug in in_round:
            new_weights[slug] = w
    new_quotas: dict[str, dict[str, int | None]] = {}
    for key, per_class in (quotas or {}).items():
        slug = _tenant_slug(key)
        for cls, hours in (per_class or {}).items():
            if cls not in ResourceKind.values:
                raise _err("bad_resource_class", f"quotas[{slug}]", _("Unknown resource class."))
            if hours is None:
                slots = None
            else:
                try:
                    h = Decimal(str(hours))
                except InvalidOperation:
                    raise _err("bad_quota", f"quotas[{slug}]", _("Must be a number.")) from None
                if not h.is_finite() or h < 0:
                    raise _err("bad_quota", f"quotas[{slug}]", _("Must be 0 or more hours."))
                slots = int(h * 60 // slot)
            if slug in in_round:
                new_quotas.setdefault(slug, {})[cls] = slots
    return problem, base, new_weights, new_quotas


def plan_digest(allocation_round: AllocationRound) -> str:
    """A fingerprint of the round's plan and status: a preview asked of another plan is stale."""
    data = json.dumps(
        {"status": allocation_round.status, "plan": allocation_round.plan},
        sort_keys=True,
        default=str,
    )
    return hashlib.sha256(data.encode()).hexdigest()


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
    the stored plan. Slow (the planner runs): called by the preview task, never in a request.
    """
    rnd = AllocationRound.objects.get(pk=allocation_round.pk)
    problem, base, new_weights, new_quotas = what_if_check(
        allocation_round=rnd, weights=weights, quotas=quotas
    )
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


def changes_as_json(changes: list[OutcomeChange]) -> list[dict]:
    """Changes as stored with a preview: booking id, kind, and both outcomes as code + params."""
    return [
        {
            "booking": c.booking.pk,
            "kind": c.kind,
            "before": c.before.as_json(),
            "after": c.after.as_json(),
        }
        for c in changes
    ]


def preview_is_dead(preview: WhatIfPreview, *, now: dt.datetime | None = None) -> bool:
    """Waiting or running for longer than any run takes: its worker is gone (or none runs)."""
    now = now or timezone.now()
    if preview.status == WhatIfPreview.Status.RUNNING:
        return preview.started_at is not None and now - preview.started_at > PREVIEW_STALE_AFTER
    if preview.status == WhatIfPreview.Status.QUEUED:
        return now - preview.created_at > PREVIEW_STALE_AFTER
    return False


def what_if_preview_run(*, preview_id: int) -> WhatIfPreview | None:
    """Plan a stored preview and store the changed outcomes (DONE), or mark it STALE when the
    round's plan changed since it was asked, or FAILED when the planner failed.

    Runs a preview that is QUEUED, or RUNNING for longer than ``PREVIEW_STALE_AFTER`` (its
    worker died). Returns ``None`` when there was nothing to run. The caller (the task) holds
    the round's what-if lease, so two workers never plan the same round's previews at once.
    """
    Status = WhatIfPreview.Status
    now = timezone.now()
    claimed = (
        WhatIfPreview.objects.filter(pk=preview_id)
        .filter(
            Q(status=Status.QUEUED)
            | Q(status=Status.RUNNING, started_at__lte=now - PREVIEW_STALE_AFTER)
        )
        .update(status=Status.RUNNING, started_at=now, error="")
    )
    if not claimed:
        return None
    preview = WhatIfPreview.objects.select_related("allocation_round").get(pk=preview_id)
    mine = WhatIfPreview.objects.filter(pk=preview_id, status=Status.RUNNING, started_at=now)
    rnd = preview.allocation_round
    if plan_digest(rnd) != preview.plan_digest:
        mine.update(status=Status.STALE, finished_at=timezone.now())
        return preview
    try:
        changes = round_what_if(
            allocation_round=rnd, weights=preview.weights, quotas=preview.quotas
        )
    except ParkError:
        # The changes were checked when asked; refused now means the round changed meanwhile.
        mine.update(status=Status.STALE, finished_at=timezone.now())
        return preview
    except Exception as exc:  # noqa: BLE001 - any failure must end the run for the page
        logger.exception("what-if preview %s failed", preview_id)
        mine.update(status=Status.FAILED, error=str(exc)[:2000], finished_at=timezone.now())
        return preview
    rnd.refresh_from_db()
    if plan_digest(rnd) != preview.plan_digest:  # re-planned while the preview ran
        mine.update(status=Status.STALE, finished_at=timezone.now())
    else:
        mine.update(status=Status.DONE, result=changes_as_json(changes), finished_at=timezone.now())
    preview.refresh_from_db()
    return preview


def what_if_preview_refresh(preview: WhatIfPreview) -> WhatIfPreview:
    """Mark a preview STALE if the round's plan has changed since it was asked."""
    Status = WhatIfPreview.Status
    if (
        preview.status in (Status.QUEUED, Status.RUNNING, Status.DONE)
        and plan_digest(preview.allocation_round) != preview.plan_digest
    ):
        WhatIfPreview.objects.filter(pk=preview.pk, status=preview.status).update(
            status=Status.STALE
        )
        preview.refresh_from_db()
    return preview
