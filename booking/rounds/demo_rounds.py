"""Fill an allocation round with realistic requests from the demo park's members.

Used by ``manage.py demo_round`` to show the operator pages with a real plan and to measure a
round solve on the demo park. Every request goes through ``round_request_create``, so the same
rules apply as in the web UI; requests it refuses (e.g. no training) are simply not made.
"""

from __future__ import annotations

import datetime as dt
import random

from django.utils import timezone

from booking.errors import ParkError
from booking.rounds.models import AllocationRound
from booking.rounds.requests import round_request_create
from booking.rounds.services import round_create
from booking.tenancy.models import Membership
from resources.models import BookingMode, Resource, ResourceKind, ResourcePool

TITLES = {
    ResourceKind.GPU_NODE: ["fine-tune", "pre-training shard", "protein folding", "vision model"],
    ResourceKind.PILOT_LINE: [
        "pilot run",
        "qualification lot",
        "customer samples",
        "process split",
    ],
    ResourceKind.LAB_INSTRUMENT: ["sample batch", "calibration series", "time course", "QC run"],
}


def demo_round_open(*, days_ahead: int = 3, time_limit_seconds: int = 10) -> AllocationRound:
    """An open round over the week starting at local midnight ``days_ahead`` days from today."""
    day = timezone.localdate() + dt.timedelta(days=days_ahead)
    start = dt.datetime.combine(day, dt.time.min, tzinfo=timezone.get_current_timezone())
    return round_create(
        name=f"Demo week of {day:%Y-%m-%d}",
        period_start=start,
        period_end=start + dt.timedelta(days=7),
        cutoff=start - dt.timedelta(hours=12),
        time_limit_seconds=time_limit_seconds,
    )


def _duration(resource: Resource, rng: random.Random) -> int:
    slot = resource.slot_minutes
    lo = resource.min_length_minutes
    if resource.kind == ResourceKind.PILOT_LINE and hasattr(resource, "line"):
        lo = max(lo, resource.line.min_run_minutes)
    # Lines and instruments are staffed by day: keep runs within one shift.
    hi = min(
        resource.max_length_minutes, 12 * 60 if resource.kind != ResourceKind.GPU_NODE else 36 * 60
    )
    steps = max(0, (hi - lo) // slot)
    return lo + slot * rng.randint(0, steps)


def demo_round_fill(
    *, allocation_round: AllocationRound, requests: int = 200, seed: int = 11
) -> int:
    """Create about ``requests`` round requests from random demo members. Returns how many."""
    rng = random.Random(seed)
    resources = list(
        Resource.objects.filter(booking_mode=BookingMode.ROUND, active=True)
        .select_related("line")
        .prefetch_related("recipes")
        .order_by("slug")
    )
    pools = [
        p
        for p in ResourcePool.objects.prefetch_related("members").order_by("slug")
        if any(m.booking_mode == BookingMode.ROUND for m in p.members.all())
    ]
    members = list(Membership.objects.select_related("user", "tenant").order_by("pk"))
    if not resources or not members:
        return 0
    days = (allocation_round.period_end - allocation_round.period_start).days
    made, attempts = 0, 0
    while made < requests and attempts < requests * 10:
        attempts += 1
        member = rng.choice(members)
        pool = rng.choice(pools) if pools and rng.random() < 0.2 else None
        resource = (
            rng.choice([m for m in pool.members.all() if m.booking_mode == BookingMode.ROUND])
            if pool
            else rng.choice(resources)
        )
        duration = _duration(resource, rng)
        day = rng.randrange(days)
        earliest = timezone.localtime(allocation_round.period_start) + dt.timedelta(
            days=day, hours=rng.choice([0, 8, 8, 9, 10, 13])
        )
        slack = dt.timedelta(hours=rng.choice([0, 4, 12, 24, 48, 72]))
        latest = min(allocation_round.period_end, earliest + dt.timedelta(minutes=duration) + slack)
        recipes = [r.code for r in resource.recipes.all()]
        units = 1
        if resource.kind == ResourceKind.GPU_NODE:
            units = rng.choice([1, 2, 4, 8][: max(1, resource.capacity.bit_length())])
            units = min(units, resource.capacity)
        try:
            round_request_create(
                user=member.user,
                tenant=member.tenant,
                resource=None if pool else resource,
                pool=pool,
                allocation_round=allocation_round,
                earliest_start=earliest,
                latest_end=latest,
                duration_minutes=duration,
                units=units,
                recipe=rng.choice(recipes) if recipes and not pool else None,
                priority=rng.choice([0, 0, 0, 1, 2]),
                title=f"{rng.choice(TITLES[ResourceKind(resource.kind)])} #{made + 1}",
            )
        except ParkError:
            continue
        made += 1
    return made
