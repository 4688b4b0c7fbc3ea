"""jobs_send_batch: one claim for many jobs, concurrent sends, one recording UPDATE, with
job_send's exactly-once rules (a live claim is left alone, a lapsed one is looked for in Slurm
before any second submission, a job cancelled while sent is cancelled in Slurm too)."""

from __future__ import annotations

import datetime as dt
import threading

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from booking.compute.models import ComputeJob, JobState
from booking.compute.sending import SEND_BATCH, SEND_LEASE, jobs_send_batch, jobs_send_due
from booking.compute.slurm import job_marker
from resources.slurm import JobInfo, SlurmError
from resources.slurm import JobState as SlurmState
from tests.compute.test_job_submit import FakeSlurm, submit

pytestmark = pytest.mark.django_db


class CountingSlurm(FakeSlurm):
    """Gives ids 500, 501, ... in submission order."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.next_id = 500
        self.cancelled = []
        self.lock = threading.Lock()

    def submit(self, spec, *, user=None, reconcile=None):
        with self.lock:  # the batch sends from several threads
            self.submit_answers = [self.next_id]
            self.next_id += 1
            return super().submit(spec, user=user, reconcile=reconcile)

    def cancel(self, job_id):
        self.cancelled.append(job_id)
        return True


def stored(park, n, client):
    return [submit(park, client, name=f"j{i}").pk for i in range(n)]


def test_one_batch_sends_every_due_job_once_with_a_fixed_number_of_statements(park):
    client = CountingSlurm()
    few = stored(park, 2, client)
    with CaptureQueriesContext(connection) as small:
        jobs_send_batch(client=client)
    many = stored(park, 12, client)
    # The asked-for job goes first even behind older ones.
    assert [j.pk for j in jobs_send_batch(client=client, first_id=many[-1], limit=1)] == [many[-1]]
    many = many[:-1]
    with CaptureQueriesContext(connection) as large:
        sent = jobs_send_batch(client=client)
    assert len(large.captured_queries) == len(small.captured_queries)
    assert {j.pk for j in sent} == set(many)
    rows = ComputeJob.objects.all()
    assert len(rows) == len(few) + 12
    assert all(r.state == JobState.PENDING and r.slurm_job_id for r in rows)
    assert len({r.slurm_job_id for r in rows}) == 14 == len(client.submitted)
    assert jobs_send_batch(client=client) == []


def test_a_live_claim_is_left_alone_and_a_lapsed_one_is_found_in_slurm_not_sent_again(park):
    client = CountingSlurm()
    live, lapsed = stored(park, 2, client)
    now = timezone.now()
    ComputeJob.objects.filter(pk=live).update(submit_attempts=1, next_attempt_at=now + SEND_LEASE)
    ComputeJob.objects.filter(pk=lapsed).update(
        submit_attempts=1, next_attempt_at=now - dt.timedelta(seconds=1)
    )
    job = ComputeJob.objects.get(pk=lapsed)
    # The dead worker's submission reached Slurm.
    client.table.append(
        JobInfo(job_id=777, name=job.slurm_name, comment=job_marker(job), state=SlurmState.PENDING)
    )
    sent = jobs_send_batch(client=client)
    assert [j.pk for j in sent] == [lapsed]
    assert ComputeJob.objects.get(pk=lapsed).slurm_job_id == 777
    assert client.submitted == []
    assert ComputeJob.objects.get(pk=live).state == JobState.QUEUED


def test_a_job_cancelled_while_its_batch_is_sent_is_cancelled_in_slurm(park, settings):
    settings.SLURM_SEND_THREADS = 1  # the cancel below writes from the sending thread
    client = CountingSlurm()
    first, second = stored(park, 2, client)
    original = client.submit

    def submit_and_cancel(spec, **kwargs):
        answer = original(spec, **kwargs)
        if spec.name == f"park-{second}":
            ComputeJob.objects.filter(pk=second).update(state=JobState.CANCELLED)
        return answer

    client.submit = submit_and_cancel
    jobs_send_batch(client=client)
    cancelled = ComputeJob.objects.get(pk=second)
    assert cancelled.state == JobState.CANCELLED and cancelled.slurm_job_id in client.cancelled
    assert ComputeJob.objects.get(pk=first).state == JobState.PENDING


def test_failures_take_the_single_job_paths(park):
    client = CountingSlurm()
    down, refused, fine = stored(park, 3, client)
    original = client.submit

    def answer(spec, **kwargs):
        if spec.name == f"park-{down}":
            raise SlurmError("cannot reach slurmrestd", transient=True)
        if spec.name == f"park-{refused}":
            raise SlurmError("Invalid account", error_code=2045)
        return original(spec, **kwargs)

    client.submit = answer
    jobs_send_batch(client=client)
    later = ComputeJob.objects.get(pk=down)
    assert later.state == JobState.QUEUED and later.next_attempt_at > timezone.now()
    failed = ComputeJob.objects.get(pk=refused)
    assert failed.state == JobState.FAILED and failed.reason_code == "slurm_refused"
    assert ComputeJob.objects.get(pk=fine).state == JobState.PENDING


def test_a_member_who_left_is_ended_with_the_rule_not_sent(park):
    from booking.tenancy.models import Membership

    client = CountingSlurm()
    (job_id,) = stored(park, 1, client)
    Membership.objects.filter(user=park.alice, tenant=park.acme).update(cluster_username="")
    jobs_send_batch(client=client)
    job = ComputeJob.objects.get(pk=job_id)
    assert job.state == JobState.FAILED and job.reason_code == "no_cluster_identity"
    assert client.submitted == []


def test_a_worker_dying_mid_batch_leaves_a_claim_that_lapses_and_nothing_doubled(park, settings):
    settings.SLURM_SEND_THREADS = 1
    client = CountingSlurm()
    first, second = stored(park, 2, client)
    original = client.submit

    def die_on_the_second(spec, **kwargs):
        if spec.name == f"park-{second}":
            raise KeyboardInterrupt  # the worker is killed after Slurm took the first job
        return original(spec, **kwargs)

    client.submit = die_on_the_second
    with pytest.raises(KeyboardInterrupt):
        jobs_send_batch(client=client)
    rows = ComputeJob.objects.filter(pk__in=[first, second])
    assert {r.state for r in rows} == {JobState.QUEUED}  # nothing recorded
    # While the dead worker's claim lasts nobody takes its jobs; after it, the next batch finds
    # the first job in Slurm and submits only the second.
    client.submit = original
    assert jobs_send_batch(client=client) == []
    later = timezone.now() + SEND_LEASE + dt.timedelta(seconds=1)
    assert {j.pk for j in jobs_send_batch(client=client, now=later)} == {first, second}
    names = [spec.name for spec, _user in client.submitted]
    assert sorted(names) == sorted([f"park-{first}", f"park-{second}"])
    assert {r.state for r in rows.all()} == {JobState.PENDING}


def test_the_sweep_sends_a_backlog_in_batches_each_job_once_and_stops_at_its_limit(park):
    client = CountingSlurm()
    # A backlog whose send tasks were lost (short jobs: the tenant's quota holds them all).
    backlog = [
        submit(park, client, name=f"b{i}", time_limit_minutes=1).pk
        for i in range(2 * SEND_BATCH + 7)
    ]
    later = timezone.now() + dt.timedelta(minutes=1)
    with CaptureQueriesContext(connection) as sweep:
        assert jobs_send_due(client=client, now=later, limit=SEND_BATCH + 3) == SEND_BATCH + 3
    # Two batch claims, not one pass per job.
    claim = 'UPDATE "booking_computejob" SET "submit_attempts"'
    assert sum(q["sql"].startswith(claim) for q in sweep.captured_queries) == 2
    assert jobs_send_due(client=client, now=later) == SEND_BATCH + 4
    rows = ComputeJob.objects.filter(pk__in=backlog)
    assert all(r.state == JobState.PENDING for r in rows)
    assert len(client.submitted) == len(backlog) == len({r.slurm_job_id for r in rows})
    assert jobs_send_due(client=client, now=later) == 0


def test_the_sweep_stops_at_the_first_batch_slurm_did_not_take(park):
    client = CountingSlurm()
    for i in range(SEND_BATCH + 5):
        submit(park, client, name=f"b{i}", time_limit_minutes=1)
    client.submit = lambda spec, **_: (_ for _ in ()).throw(
        SlurmError("connection refused", transient=True)
    )
    later = timezone.now() + dt.timedelta(minutes=1)
    assert jobs_send_due(client=client, now=later) == 0
    # One batch tried and put back for later; the jobs beyond it were not claimed at all.
    assert ComputeJob.objects.filter(submit_attempts=1).count() == SEND_BATCH
    assert ComputeJob.objects.filter(submit_attempts=0).count() == 5
    assert not ComputeJob.objects.exclude(state=JobState.QUEUED).exists()
