"""Build the living demo park in one transaction: the catalogue and tenants, then a month of
activity. Re-running changes nothing: each layer is built only when its marker is missing."""

from __future__ import annotations

import datetime as dt
import random
import time
from contextlib import contextmanager
from dataclasses import dataclass, field

from django.contrib.auth import get_user_model
from django.db import transaction
from django.utils import timezone

from booking.demo.accounts import rates_publish, statements_make, usage_record
from booking.demo.approvals import approvals_make
from booking.demo.calendars import calendars_fill
from booking.demo.clusters import clusters_make, clusters_register
from booking.demo.jobs import jobs_make, outputs_write, running_booking_make
from booking.demo.rounds import open_round_fill, published_round_make
from booking.rounds import demo as catalogue
from booking.rounds.models import AllocationRound
from booking.tenancy.models import Membership


@dataclass
class DemoReport:
    logins: catalogue.DemoLogins | None = None
    built_catalogue: bool = False
    built_activity: bool = False
    counts: dict[str, int] = field(default_factory=dict)
    timings: dict[str, float] = field(default_factory=dict)
    seconds: float = 0.0
    cpu_seconds: float = 0.0


class _Clock:
    def __init__(self, report: DemoReport):
        self.report, self.last = report, time.perf_counter()

    def lap(self, name: str) -> None:
        now = time.perf_counter()
        self.report.timings[name] = round(now - self.last, 2)
        self.last = now


def activity_exists() -> bool:
    return AllocationRound.objects.filter(status=AllocationRound.Status.PUBLISHED).exists()


@contextmanager
def _members_not_told():
    """The demo's members are made up: drop the e-mails and Slurm pushes the services queue
    on commit while the demo is built (their rows are written as usual)."""
    connection = transaction.get_connection()
    before = len(connection.run_on_commit)
    try:
        yield
    finally:
        del connection.run_on_commit[before:]


def _logins() -> catalogue.DemoLogins:
    first = Membership.objects.filter(user__username="manager").select_related("tenant").first()
    return catalogue.DemoLogins(
        operator="operator",
        manager="manager",
        member="member",
        password=catalogue.DEMO_PASSWORD,
        tenant=first.tenant.name if first else "",
    )


def _activity_build(*, seed: int, now: dt.datetime, report: DemoReport) -> list[tuple[str, str]]:
    rng = random.Random(seed)
    today = timezone.localtime(now).date()
    operator = get_user_model().objects.get(username="operator")
    favourite = Membership.objects.select_related("user", "tenant").get(user__username="member")
    clock = _Clock(report)
    clusters_register()
    rates = rates_publish(today=today, operator=operator)
    running = running_booking_make(favourite=favourite, now=now)
    made = calendars_fill(rng=rng, favourite=favourite, now=now)
    clock.lap("calendars")
    files = jobs_make(past=made.past, running=running, rng=rng, now=now)
    clusters = clusters_make(operator=operator, now=now, files=files)
    clock.lap("jobs")
    usage = usage_record(past=made.past, operator=operator, rng=rng, now=now)
    clock.lap("usage")
    published = published_round_make(operator=operator, seed=seed + 1, now=now)
    clock.lap("published_round")
    requests = open_round_fill(seed=seed + 2, now=now)
    clock.lap("open_round")
    statements = statements_make(today=today, operator=operator, now=now)
    clock.lap("statements")
    waiting = approvals_make(favourite=favourite, now=now)
    report.counts.update(
        past_bookings=len(made.past),
        coming_bookings=len(made.ahead),
        refused_candidates=made.refused,
        job_outputs=len(files),
        published_round=published.pk,
        open_round_requests=requests,
        rate_cards=rates,
        statements=statements,
        waiting_for_approval=waiting,
        **clusters,
        **usage,
    )
    return files


def demo_build(*, seed: int = 7, now: dt.datetime | None = None) -> DemoReport:
    """Build whatever of the demo park is missing (all of it in one transaction)."""
    started, cpu = time.perf_counter(), time.process_time()
    report = DemoReport()
    now = now or timezone.now()
    files: list[tuple[str, str]] = []
    with transaction.atomic(), _members_not_told():
        if not catalogue.demo_exists():
            report.logins = catalogue.demo_park_build(seed=seed, today=timezone.localdate(now))
            report.built_catalogue = True
        if not activity_exists():
            files = _activity_build(seed=seed, now=now, report=report)
            report.built_activity = True
    outputs_write(files)  # after the commit: a refused build leaves no files behind
    report.logins = report.logins or _logins()
    report.seconds = time.perf_counter() - started
    report.cpu_seconds = time.process_time() - cpu
    return report
