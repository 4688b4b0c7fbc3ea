"""Adapter from the database to the pure planner in ``scheduler/``.

``round_problem_build`` turns a round's requests, the round-booked resources (capacity, opening
hours and shifts, maintenance, existing bookings, recipes and changeovers, pools), the tenants
(weights, quotas left for the round) and the users' trainings into a ``scheduler.Problem``.

Ids in the problem are readable so an exported round can be audited by hand: resources and
tenants by slug, users by user name, requests by booking id.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Iterable
from dataclasses import dataclass, field
from decimal import Decimal
from functools import reduce

from django.conf import settings
from django.db.models import Prefetch
from django.utils import timezone

import scheduler
from booking.bookings.models import HOLDING_STATUSES, Booking, BookingStatus
from booking.rounds.models import AllocationRound
from booking.rounds.outcomes import Outcome
from booking.rounds.weights import round_weight
from booking.tenancy.models import Quota, Tenant
from booking.tenancy.selectors import period_bounds, used_hours
from resources.availability import intersect_intervals, merge_intervals, open_intervals
from resources.models import (
    BookingMode,
    Changeover,
    MaintenanceWindow,
    Resource,
    ResourceKind,
    TrainingRecord,
    WeeklyHours,
)

KIND_TO_SCHEDULER = {
    ResourceKind.GPU_NODE: scheduler.GPU_NODE,
    ResourceKind.PILOT_LINE: scheduler.PILOT_LINE,
    ResourceKind.LAB_INSTRUMENT: scheduler.LAB_INSTRUMENT,
}


@dataclass
class RoundProblem:
    """A planning problem with the database rows it came from."""

    round: AllocationRound
    problem: scheduler.Problem
    slot_minutes: int
    bookings: dict[str, Booking]  # request id → booking, for requests given to the solver
    resources: dict[str, Resource]  # resource id (slug) → resource
    preset: dict[int, Outcome] = field(default_factory=dict)  # decided before solving
    notes: list[str] = field(default_factory=list)

    def hours(self, usage_slots: float) -> float:
        return round(usage_slots * self.slot_minutes / 60, 2)


def round_resources() -> list[Resource]:
    """Active round-booked resources with everything the planner needs, in a few queries."""
    return list(
        Resource.objects.filter(booking_mode=BookingMode.ROUND, active=True)
        .select_related("required_training", "line", "gpu")
        .prefetch_related(
            "weekly_hours",
            "recipes",
            Prefetch("changeovers", queryset=_changeovers()),
        )
        .order_by("kind", "slug")
    )


def _changeovers():
    return Changeover.objects.select_related("from_recipe", "to_recipe")


def _slot_minutes(resources: Iterable[Resource]) -> int:
    """One slot length fine enough for every resource's booking granularity."""
    values = [r.slot_minutes for r in resources]
    return reduce(math.gcd, values) if values else 60


class _Clock:
    """Converts the round's datetimes into slots and back."""

    def __init__(self, start: dt.datetime, end: dt.datetime, slot: int):
        self.start, self.slot = start, slot
        self.horizon = int((end - start).total_seconds() // (slot * 60))

    def inner(self, a: dt.datetime, b: dt.datetime) -> tuple[int, int]:
        """The slots wholly inside [a, b), clipped to the round."""
        sa, sb = scheduler.window_to_slots(a, b, self.start, self.slot)
        return max(sa, 0), min(sb, self.horizon)

    def outer(self, a: dt.datetime, b: dt.datetime) -> tuple[int, int]:
        """The slots touching [a, b), clipped to the round (for blocked time)."""
        sa = scheduler.to_slot(a, self.start, self.slot, round_up=False)
        sb = scheduler.to_slot(b, self.start, self.slot, round_up=True)
        return max(sa, 0), min(sb, self.horizon)

    def moment(self, slot: int) -> dt.datetime:
        return scheduler.to_datetime(slot, self.start, self.slot)

    def date_slot(self, day: dt.date, *, round_up: bool) -> int:
        midnight = dt.datetime.combine(day, dt.time.min, tzinfo=timezone.get_current_timezone())
        return scheduler.to_slot(midnight, self.start, self.slot, round_up=round_up)


def _open_periods(resource: Resource, clock: _Clock, end: dt.datetime):
    """Opening hours and technician shifts as slot periods; ``None`` when it is always open.

    With both opening hours and shifts the resource is usable where both hold (the hours
    themselves, 23:59 meaning midnight, come from ``resources.availability``).
    """
    rows = list(resource.weekly_hours.all())
    if not rows:
        return None
    result = None
    for purpose in (WeeklyHours.Purpose.OPENING, WeeklyHours.Purpose.SHIFT):
        weekly = [(h.weekday, h.opens, h.closes) for h in rows if h.purpose == purpose]
        if not weekly:
            continue
        opened = open_intervals(weekly=weekly, start=clock.start, end=end) or []
        slots = [clock.inner(a, b) for a, b in opened]
        periods = merge_intervals(p for p in slots if p[0] < p[1])
        result = periods if result is None else intersect_intervals(result, periods)
    return tuple(result or ())


def _scheduler_resource(resource: Resource, clock: _Clock, end, blocked) -> scheduler.Resource:
    recipes = tuple(sorted(r.code for r in resource.recipes.all()))
    slot = clock.slot
    changeovers = tuple(
        (c.from_recipe.code, c.to_recipe.code, math.ceil(c.minutes / slot))
        for c in resource.changeovers.all()
        if c.minutes
    )
    min_run = 0
    if resource.kind == ResourceKind.PILOT_LINE and hasattr(resource, "line"):
        min_run = math.ceil(resource.line.min_run_minutes / slot)
    # The resource's own grid: steps of its slot length from local midnight, as an instant
    # booking of it is checked (a step that does not divide a day is checked at publishing).
    grid, offset = None, 0
    if resource.slot_minutes != slot and (24 * 60) % resource.slot_minutes == 0:
        local = timezone.localtime(clock.start)
        grid = resource.slot_minutes
        offset = -(local.hour * 60 + local.minute) % grid
    # A GPU node's CPUs and memory: the planner holds every booking at a time within each.
    node = getattr(resource, "gpu", None) if resource.kind == ResourceKind.GPU_NODE else None
    return scheduler.Resource(
        id=resource.slug,
        slot_minutes=grid,
        slot_offset=offset,
        kind=KIND_TO_SCHEDULER[ResourceKind(resource.kind)],
        capacity=resource.capacity,
        resource_class=str(resource.kind),
        open_periods=_open_periods(resource, clock, end),
        maintenance=tuple(merge_intervals(blocked)),
        recipes=recipes,
        changeovers=changeovers,
        min_run=min_run,
        required_training=resource.required_training.code if resource.required_training else None,
        cpus=node.cpus if node else 0,
        memory=node.memory_gb if node else 0,
    )


def _fits(resource: scheduler.Resource, booking: Booking) -> bool:
    """The node holds what the request asks on it: its GPUs, and its CPUs and memory where
    both state them (a dimension at 0 is not counted, as in the planner)."""
    if resource.capacity < booking.units:
        return False
    return all(
        not have or need <= have
        for need, have in ((booking.cpus, resource.cpus), (booking.memory_gb, resource.memory))
    )


def round_quota_hours(
    *, tenant: Tenant, resource_class: str, start: dt.datetime, end: dt.datetime, exclude=()
) -> Decimal | None:
    """Hours of ``resource_class`` the tenant may still be granted in [start, end), or ``None``.

    Every quota period that overlaps the round is checked (a weekly round may straddle two
    months of a monthly quota): the round may not take more than what is left in any of them.
    """
    left: Decimal | None = None
    quotas = Quota.objects.filter(tenant=tenant, resource_class=resource_class)
    for quota in quotas:
        at = start
        while at < end:
            p_start, p_end = period_bounds(period=quota.period, at=at)
            used = used_hours(
                tenant=tenant, resource_class=resource_class, start=p_start, end=p_end
            )
            for booking in exclude:
                if booking.tenant_id == tenant.pk and booking.status in HOLDING_STATUSES:
                    if booking.resource and booking.resource.kind == resource_class:
                        overlap = min(booking.end, p_end) - max(booking.start, p_start)
                        if overlap.total_seconds() > 0:
                            used -= Decimal(booking.units * overlap.total_seconds() / 3600)
            remaining = max(Decimal(0), quota.hours - used)
            left = remaining if left is None else min(left, remaining)
            at = p_end
    return left


def round_problem_build(
    *,
    allocation_round: AllocationRound,
    bookings: Iterable[Booking] | None = None,
    not_before: dt.datetime | None = None,
    exclude: Iterable[Booking] = (),
) -> RoundProblem:
    """The planning problem of ``round``.

    ``bookings``: the requests to plan (default: the round's REQUESTED ones). ``not_before``:
    nothing may be planned earlier (used when the waitlist is re-planned during the round).
    ``exclude``: holding bookings to treat as free (a booking being cancelled).
    Requests that cannot be given to the solver at all (e.g. a window shorter than the duration
    on the planning grid) get an outcome at once, in ``preset``.
    """
    resources = round_resources()
    slot = _slot_minutes(resources)
    clock = _Clock(allocation_round.period_start, allocation_round.period_end, slot)
    horizon = clock.horizon
    notes: list[str] = []
    exclude = list(exclude)
    excluded_ids = {b.pk for b in exclude}
    not_before_slot = 0
    if not_before is not None:
        not_before_slot = min(
            horizon, max(0, scheduler.to_slot(not_before, clock.start, slot, round_up=True))
        )

    # Blocked time per resource: maintenance, bookings already holding the resource, the past.
    blocked: dict[int, list[tuple[int, int]]] = {r.pk: [] for r in resources}
    if not_before_slot:
        for r in resources:
            blocked[r.pk].append((0, not_before_slot))
    windows = MaintenanceWindow.objects.filter(
        resource__in=resources,
        start__lt=allocation_round.period_end,
        end__gt=allocation_round.period_start,
    )
    for m in windows:
        blocked[m.resource_id].append(clock.outer(m.start, m.end))
    holding = (
        Booking.objects.filter(
            resource__in=resources,
            status__in=HOLDING_STATUSES,
            start__lt=allocation_round.period_end,
            end__gt=allocation_round.period_start,
        )
        .exclude(pk__in=excluded_ids)
        .values_list("resource_id", "start", "end", "units")
    )
    shared_busy = set()
    for resource_id, b_start, b_end, _units in holding:
        blocked[resource_id].append(clock.outer(b_start, b_end))
        shared_busy.add(resource_id)
    by_pk = {r.pk: r for r in resources}
    for resource_id in sorted(shared_busy):
        if by_pk[resource_id].capacity > 1:
            # The planner's capacity is constant over the round, so a GPU node that already has
            # bookings is kept whole for them while they run (never overbooked; may leave GPUs idle).
            notes.append(
                f"{by_pk[resource_id].slug}: existing bookings block the whole node while they run"
            )
    sched_resources = {
        r.slug: _scheduler_resource(
            r, clock, allocation_round.period_end, [p for p in blocked[r.pk] if p[0] < p[1]]
        )
        for r in resources
    }
    resources_by_slug = {r.slug: r for r in resources}

    if bookings is None:
        bookings = allocation_round.requests.filter(status=BookingStatus.REQUESTED)
    bookings = sorted(
        (
            b
            for b in Booking.objects.filter(pk__in=[b.pk for b in bookings]).select_related(
                "tenant", "user", "resource", "pool", "recipe"
            )
        ),
        key=lambda b: (b.created_at, b.pk),
    )
    pool_members: dict[int, list[str]] = {}
    pool_ids = {b.pool_id for b in bookings if b.pool_id}
    if pool_ids:
        for pool_id, slug in (
            Resource.objects.filter(pools__in=pool_ids, slug__in=list(sched_resources))
            .values_list("pools", "slug")
            .order_by("slug")
        ):
            pool_members.setdefault(pool_id, []).append(slug)

    preset: dict[int, Outcome] = {}
    drafts: dict[int, dict] = {}
    for b in bookings:
        cls = str(b.resource.kind if b.resource_id else b.pool.kind)
        if b.resource_id:
            candidates = [b.resource.slug] if b.resource.slug in sched_resources else []
        else:
            candidates = [
                s
                for s in pool_members.get(b.pool_id, [])
                if resources_by_slug[s].kind == b.pool.kind
            ]
        candidates = [s for s in candidates if _fits(sched_resources[s], b)]
        recipe = b.recipe.code if b.recipe_id else None
        candidates = [
            s
            for s in candidates
            if not sched_resources[s].recipes
            or (recipe is not None and recipe in sched_resources[s].recipes)
        ]
        duration = math.ceil((b.duration_minutes or 0) / slot)
        a, z = clock.inner(b.earliest_start, b.latest_end)
        a = max(a, not_before_slot)
        if not candidates or duration < 1 or z - a < duration:
            preset[b.pk] = Outcome(b.pk, False, "no_feasible_start", {"resource_class": cls})
            continue
        drafts[b.pk] = {
            "booking": b,
            "resources": tuple(candidates),
            "duration": duration,
            "earliest": a,
            "deadline": z,
            "recipe": recipe,
            "class": cls,
        }

    # Chains: a request follows another; steps are granted all together or not at all.
    chain_of: dict[int, tuple[str, int]] = {}
    known = {b.pk: b for b in bookings}
    for pk in list(known):
        depth, node, seen = 0, known[pk], {pk}
        while node.follows_id in known and node.follows_id not in seen:
            seen.add(node.follows_id)
            node = known[node.follows_id]
            depth += 1
        if depth or any(o.follows_id == pk for o in bookings):
            chain_of[pk] = (f"c{node.pk}", depth)
    members: dict[str, list[int]] = {}
    for pk, (cid, _step) in chain_of.items():
        members.setdefault(cid, []).append(pk)
    for cid, pks in members.items():
        steps = [chain_of[pk][1] for pk in pks]
        if len(set(steps)) != len(steps):
            notes.append(f"chain {cid} branches; its requests are planned one by one")
            for pk in pks:
                chain_of.pop(pk)
            continue
        if any(pk in preset for pk in pks):
            for pk in pks:
                if pk not in preset:
                    preset[pk] = Outcome(
                        pk, False, "chain_unplaceable", {"resource_class": drafts[pk]["class"]}
                    )
                    drafts.pop(pk)

    gpu_class = str(ResourceKind.GPU_NODE)
    requests = []
    for pk, d in drafts.items():
        b = d["booking"]
        cid, step = chain_of.get(pk, (None, 0))
        max_gap = None
        if cid is not None and step > 0 and b.max_gap_minutes is not None:
            max_gap = b.max_gap_minutes // slot
        requests.append(
            scheduler.Request(
                id=str(pk),
                tenant=b.tenant.slug,
                user=b.user.get_username(),
                resources=d["resources"],
                duration=d["duration"],
                earliest=d["earliest"],
                deadline=d["deadline"],
                priority=b.priority,
                units=b.units,
                # CPUs and memory per node (0: not stated, so not counted in that dimension).
                cpus=b.cpus if d["class"] == gpu_class else 0,
                memory=b.memory_gb if d["class"] == gpu_class else 0,
                recipe=d["recipe"],
                chain=cid,
                chain_step=step,
                max_gap=max_gap,
            )
        )

    # Tenants: weight (with the registered factors, e.g. the no-show penalty), and the quota left for the round in capacity-slots (GPU-slots for GPUs).
    tenants = {d["booking"].tenant.slug: d["booking"].tenant for d in drafts.values()}
    classes: dict[str, set[str]] = {}
    for d in drafts.values():
        classes.setdefault(d["booking"].tenant.slug, set()).add(d["class"])
    sched_tenants = []
    for slug, tenant in sorted(tenants.items()):
        quotas = {}
        for cls in sorted(classes[slug]):
            left = round_quota_hours(
                tenant=tenant,
                resource_class=cls,
                start=allocation_round.period_start,
                end=allocation_round.period_end,
                exclude=exclude,
            )
            if left is not None:
                quotas[cls] = int(left * 60 // slot)
        weight = round_weight(tenant=tenant, allocation_round=allocation_round)
        sched_tenants.append(scheduler.Tenant(slug, weight=weight, quotas=quotas))

    # Trainings of the users asking, for the trainings the round's resources require.
    codes = {r.required_training for r in sched_resources.values() if r.required_training}
    users = {d["booking"].user_id for d in drafts.values()}
    trainings = []
    if codes and users:
        records = TrainingRecord.objects.filter(
            user_id__in=users,
            training__code__in=codes,
            granted_on__lt=timezone.localtime(allocation_round.period_end).date()
            + dt.timedelta(days=1),
            expires_on__gt=timezone.localtime(allocation_round.period_start).date()
            - dt.timedelta(days=1),
        ).select_related("user", "training")
        for rec in records.order_by("user__username", "training__code", "granted_on"):
            trainings.append(
                scheduler.Training(
                    user=rec.user.get_username(),
                    training=rec.training.code,
                    valid_from=clock.date_slot(rec.granted_on, round_up=True),
                    valid_until=clock.date_slot(rec.expires_on, round_up=False),
                )
            )

    # The GPU class's fairness measure (PARK_GPU_FAIRNESS); the others are measured in hours.
    fairness = {}
    if any(r.resource_class == gpu_class for r in sched_resources.values()):
        fairness[gpu_class] = settings.PARK_GPU_FAIRNESS
    problem = scheduler.Problem(
        horizon=max(horizon, 1),
        resources=tuple(sched_resources.values()),
        tenants=tuple(sched_tenants),
        requests=tuple(requests),
        trainings=tuple(trainings),
        slot_minutes=slot,
        round_start=allocation_round.period_start,
        name=allocation_round.name,
        fairness=fairness,
    )
    return RoundProblem(
        round=allocation_round,
        problem=problem,
        slot_minutes=slot,
        bookings={str(d["booking"].pk): d["booking"] for d in drafts.values()},
        resources=resources_by_slug,
        preset=preset,
        notes=notes,
    )
