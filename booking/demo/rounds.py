"""The demo's rounds: one published over the coming days (requests filled, planned by the
real planner with a short time limit, published through ``round_publish``) and one open for
the week after, with more requests than its lines and H100 nodes can hold."""

from __future__ import annotations

import datetime as dt

from django.utils import timezone

from booking.rounds.demo_rounds import demo_round_fill
from booking.rounds.lifecycle import round_close
from booking.rounds.models import AllocationRound
from booking.rounds.services import round_create, round_publish
from booking.rounds.solving import round_plan_solve

PUBLISHED_REQUESTS = 90
OPEN_REQUESTS = 160
PLANNER_SECONDS = 5


class DemoRoundFailed(RuntimeError):
    pass


def open_round(*, now: dt.datetime) -> AllocationRound:
    """The demo's open round: the catalogue's (a week starting on the Monday after next), or a
    new one like it when that one's cut-off has passed (a demo park built long ago)."""
    rnd = (
        AllocationRound.objects.filter(status=AllocationRound.Status.OPEN, cutoff__gt=now)
        .order_by("period_start")
        .first()
    )
    if rnd is not None:
        return rnd
    today = timezone.localtime(now).date()
    monday = today + dt.timedelta(days=14 - today.weekday())
    start = dt.datetime.combine(monday, dt.time.min, tzinfo=timezone.get_current_timezone())
    return round_create(
        name=f"Week of {monday:%Y-%m-%d}",
        period_start=start,
        period_end=start + dt.timedelta(days=7),
        cutoff=start - dt.timedelta(days=2, hours=6),
    )


def published_round_make(*, operator, seed: int, now: dt.datetime) -> AllocationRound:
    """A round from tomorrow to the start of the open round, planned and published."""
    upcoming = open_round(now=now)
    day = timezone.localtime(now).date() + dt.timedelta(days=1)
    start = dt.datetime.combine(day, dt.time.min, tzinfo=timezone.get_current_timezone())
    rnd = round_create(
        name=f"Week of {day:%Y-%m-%d}",
        period_start=start,
        period_end=upcoming.period_start,
        cutoff=start,
        time_limit_seconds=PLANNER_SECONDS,
        actor=operator,
    )
    demo_round_fill(allocation_round=rnd, requests=PUBLISHED_REQUESTS, seed=seed)
    rnd = round_close(allocation_round=rnd, actor=operator)
    AllocationRound.objects.filter(pk=rnd.pk).update(
        status=AllocationRound.Status.SOLVING, solve_started_at=timezone.now()
    )
    solved = round_plan_solve(round_id=rnd.pk)
    if solved is None or solved.status != AllocationRound.Status.SOLVED:
        raise DemoRoundFailed(f"the planner did not plan the demo round {rnd.pk}")
    return round_publish(allocation_round=solved, actor=operator)


def open_round_fill(*, seed: int, now: dt.datetime) -> int:
    """Requests from many tenants for the open round (more than it can grant)."""
    rnd = open_round(now=now)
    return demo_round_fill(allocation_round=rnd, requests=OPEN_REQUESTS, seed=seed)
