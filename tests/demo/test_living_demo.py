"""The living demo park: busy calendars over the past month and the coming two weeks, jobs with
output, a contended open round, a published round with reasons, usage records and statements —
built once for this module (about 30 s of CPU) and never showing a booking the rules refuse."""

from __future__ import annotations

import datetime as dt
from collections import Counter

import pytest
from django.apps import apps
from django.core.management import call_command
from django.db import transaction
from django.db.models import Q, Sum
from django.test.utils import override_settings
from django.utils import timezone

from booking.billing.models import Statement, StatementStatus
from booking.bookings.models import HOLDING_STATUSES, Booking, BookingStatus
from booking.compute.models import ComputeJob, JobState
from booking.compute.selectors import job_output_tail
from booking.demo.build import demo_build
from booking.rounds.models import AllocationRound
from booking.usage.models import BookingUsage, LineRun
from resources.models import BookingMode, Resource, ResourceKind, WeeklyHours

NOW = timezone.now().replace(microsecond=0)


@pytest.fixture(scope="module")
def demo(django_db_setup, django_db_blocker, tmp_path_factory):
    """The whole demo, built once in a transaction rolled back after the module."""
    jobs_dir = tmp_path_factory.mktemp("jobs")
    with django_db_blocker.unblock(), override_settings(SLURM_JOB_WORKDIR=str(jobs_dir)):
        with transaction.atomic():
            report = demo_build(seed=7, now=NOW)
            yield report
            transaction.set_rollback(True)


def _counts() -> dict[str, int]:
    return {
        model._meta.label: model.objects.count()
        for model in apps.get_models()
        if model._meta.app_label.startswith(("booking", "resources", "park", "billing", "usage"))
        or model._meta.label in ("auth.User",)
    }


def _held(resource_kind: str, since: dt.datetime, until: dt.datetime):
    return Booking.objects.filter(
        resource__kind=resource_kind, status__in=HOLDING_STATUSES, start__lt=until, end__gt=since
    )


def test_calendars_are_busy_over_the_past_month_and_the_coming_two_weeks(db, demo):
    month_ago, in_two_weeks = NOW - dt.timedelta(days=30), NOW + dt.timedelta(days=14)
    past = Booking.objects.filter(end__lte=NOW, start__gte=month_ago, resource__isnull=False)
    ahead = _held(ResourceKind.LAB_INSTRUMENT, NOW, in_two_weeks) | _held(
        ResourceKind.GPU_NODE, NOW, in_two_weeks
    )
    for resource in Resource.objects.filter(active=True):
        assert past.filter(resource=resource).count() >= 5, resource.slug
        if resource.booking_mode == BookingMode.INSTANT:
            assert ahead.filter(resource=resource).exists(), resource.slug
    # Many tenants book; lines and H100 nodes ahead come from the published round.
    assert past.values("tenant").distinct().count() >= 15
    assert _held(ResourceKind.PILOT_LINE, NOW, in_two_weeks).filter(round__isnull=False).exists()


def test_no_demo_booking_breaks_opening_hours_or_capacity(db, demo):
    tz = timezone.get_current_timezone()
    hours = {}
    for r_id, day, opens, closes in WeeklyHours.objects.filter(
        purpose=WeeklyHours.Purpose.OPENING
    ).values_list("resource_id", "weekday", "opens", "closes"):
        hours.setdefault((r_id, day), []).append((opens, closes))
    held = Booking.objects.filter(status__in=HOLDING_STATUSES, resource__isnull=False)
    for booking in held.filter(resource__kind=ResourceKind.LAB_INSTRUMENT):
        start, end = booking.start.astimezone(tz), booking.end.astimezone(tz)
        spans = hours[(booking.resource_id, start.weekday())]
        assert any(o <= start.time() and end.time() <= c for o, c in spans), booking.pk
    for resource in Resource.objects.all():
        rows = list(held.filter(resource=resource).values_list("start", "end", "units"))
        for start, end, _units in rows:
            used = sum(u for s, e, u in rows if s < end and e > start and s <= start)
            assert used <= resource.capacity, (resource.slug, start)


def test_finished_and_running_jobs_have_output(db, demo):
    states = Counter(ComputeJob.objects.values_list("state", flat=True))
    assert states[JobState.COMPLETED] >= 20
    assert states[JobState.FAILED] + states[JobState.TIMEOUT] >= 1
    assert states[JobState.RUNNING] >= 1
    for job in ComputeJob.objects.filter(Q(state=JobState.RUNNING) | Q(state=JobState.COMPLETED))[
        :20
    ]:
        assert "demo data" in job.script
        tail = job_output_tail(job=job)
        assert tail.readable and "loss" in tail.text, job.pk
        if job.state == JobState.COMPLETED:
            assert job.gpu_hours > 0 and job.ended_at <= NOW


def test_the_open_round_is_contended_by_many_tenants(db, demo):
    rnd = AllocationRound.objects.get(status=AllocationRound.Status.OPEN)
    assert rnd.cutoff > NOW
    requests = rnd.requests.filter(status=BookingStatus.REQUESTED)
    assert requests.values("tenant").distinct().count() >= 10
    lines = Resource.objects.filter(kind=ResourceKind.PILOT_LINE)
    asked = requests.filter(resource__in=lines).aggregate(m=Sum("duration_minutes"))["m"]
    # Each line runs at most 6 shifts of 12 h a week.
    assert asked / 60 > lines.count() * 6 * 12


def test_the_published_round_has_outcomes_with_reasons(db, demo):
    rnd = AllocationRound.objects.get(status=AllocationRound.Status.PUBLISHED)
    outcomes = Counter(rnd.requests.values_list("status", flat=True))
    assert outcomes[BookingStatus.CONFIRMED] >= 10
    assert outcomes[BookingStatus.WAITLISTED] + outcomes[BookingStatus.REFUSED] >= 1
    assert not rnd.requests.filter(reason_code="").exists()
    assert rnd.requests.exclude(reason_text="").exists()


def test_usage_and_statements_cover_the_past_month(db, demo):
    usage = BookingUsage.objects.filter(booking__end__lte=NOW)
    assert usage.filter(checked_in_at__isnull=False, checked_out_at__isnull=False).count() >= 50
    assert usage.filter(no_show=True).exists()
    assert LineRun.objects.count() >= 5
    assert not Booking.objects.filter(end__lte=NOW, status=BookingStatus.CONFIRMED).exists()
    final = Statement.objects.filter(status=StatementStatus.FINAL)
    assert final.count() == 20 and final.filter(total__gt=0).count() >= 10
    assert Statement.objects.filter(status=StatementStatus.DRAFT).count() == 20


def test_re_running_the_demo_changes_nothing(db, demo, capsys):
    before = _counts()
    call_command("demo_park")
    assert _counts() == before
    assert "exists already" in capsys.readouterr().out


def test_both_clusters_have_nodes_jobs_and_tenants_with_their_own_data_policies(db, demo):
    from booking.compute.residency import (
        CrossBoundaryApproval,
        DataClass,
        TenantDataPolicy,
        may_run,
    )
    from resources.clusters import Cluster, Jurisdiction

    clusters = {c.jurisdiction: c for c in Cluster.objects.all()}
    assert set(clusters) == {Jurisdiction.HONG_KONG, Jurisdiction.MAINLAND}
    hub = clusters[Jurisdiction.MAINLAND]
    for cluster in clusters.values():
        nodes = Resource.objects.filter(kind=ResourceKind.GPU_NODE, gpu__slurm_cluster=cluster.name)
        assert nodes.count() >= 2, cluster.name
    # Jobs ran on both; every job on the hub carries data that may go to the Mainland.
    assert ComputeJob.objects.filter(cluster=hub, state=JobState.COMPLETED).exists()
    assert ComputeJob.objects.exclude(cluster=hub).filter(cluster__isnull=False).exists()
    for job in ComputeJob.objects.filter(cluster=hub).select_related("tenant"):
        assert may_run(tenant=job.tenant, data_class=job.data_class, cluster=hub, now=NOW)
    defaults = set(TenantDataPolicy.objects.values_list("default_data_class", flat=True))
    assert {DataClass.OPEN, DataClass.PERSONAL, DataClass.HK_ONLY} <= defaults
    approvals = CrossBoundaryApproval.objects.all()
    assert approvals.filter(expires_at__gt=NOW).exists()
    assert approvals.filter(expires_at__lte=NOW).exists()
