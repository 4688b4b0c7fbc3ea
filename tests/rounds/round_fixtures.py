"""Fixtures for allocation-round tests: an open round over a week starting in three days."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone


def local_midnight(days_ahead: int) -> dt.datetime:
    day = timezone.localdate() + dt.timedelta(days=days_ahead)
    return dt.datetime.combine(day, dt.time.min, tzinfo=timezone.get_current_timezone())


@pytest.fixture
def week_round(park):
    from booking.rounds.services import round_create

    start = local_midnight(3)
    return round_create(
        name="Test week",
        period_start=start,
        period_end=start + dt.timedelta(days=7),
        cutoff=start - dt.timedelta(days=1),
        time_limit_seconds=5,
    )


@pytest.fixture
def drf_node(park):
    """A round-booked node of 8 GPUs, 9 CPUs and 18 GB; Acme and Globex weigh the same."""
    from resources.services import gpu_node_create

    park.globex.weight = 1
    park.globex.save()
    return gpu_node_create(
        name="DRF node",
        slug="drf",
        location=park.gpu.location,
        gpu_model="A100",
        gpu_count=8,
        gpu_memory_gb=80,
        cpus=9,
        memory_gb=18,
        slurm_cluster="park",
        slurm_partition="gpu",
        slurm_node="drf01",
        booking_mode="round",
        min_length_minutes=60,
        max_length_minutes=24 * 60,
        slot_minutes=60,
        horizon_days=28,
    )


def at(rnd, day: int, hour: int, minute: int = 0) -> dt.datetime:
    """A moment in the round: ``day`` days after its start, at hour:minute local time."""
    base = timezone.localtime(rnd.period_start)
    return base + dt.timedelta(days=day, hours=hour, minutes=minute)


def ask(rnd, *, user, tenant, resource=None, pool=None, day=0, start=8, end=20, minutes=240, **kw):
    """A round request for ``minutes`` inside day ``day`` from ``start`` to ``end`` o'clock."""
    from booking.rounds.requests import round_request_create

    kw.setdefault("title", f"{user.username} {resource.slug if resource else pool.slug} d{day}")
    return round_request_create(
        user=user,
        tenant=tenant,
        resource=resource,
        pool=pool,
        allocation_round=rnd,
        earliest_start=at(rnd, day, start),
        latest_end=at(rnd, day, end),
        duration_minutes=minutes,
        **kw,
    )


def close_and_solve(rnd, django_capture_on_commit_callbacks, actor=None):
    """Close the round and run the planner (huey runs tasks inline in the tests)."""
    from booking.rounds.lifecycle import round_close
    from booking.rounds.models import AllocationRound
    from booking.rounds.services import round_run_planner

    if rnd.status == AllocationRound.Status.OPEN:
        rnd = round_close(allocation_round=rnd, actor=actor)
    with django_capture_on_commit_callbacks(execute=True):
        round_run_planner(allocation_round=rnd, actor=actor)
    rnd.refresh_from_db()
    return rnd


def publish(rnd, django_capture_on_commit_callbacks, actor=None):
    from booking.rounds.services import round_publish

    with django_capture_on_commit_callbacks(execute=True):
        return round_publish(allocation_round=rnd, actor=actor)
