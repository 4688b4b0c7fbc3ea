"""The follower with many live jobs: one job-table read, only our jobs of it decoded, unchanged
jobs cost no database work and the changed ones are written together, each row only if its
state did not move meanwhile.

The Slurm side is the real client over a scripted slurmrestd (raw v0.0.38 JSON), so the
table is decoded as in production. The same follower runs against the real cluster in
tests/slurm/test_job_flow.py.
"""

from __future__ import annotations

import datetime as dt

import httpx
import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from booking.compute import following as following_module
from booking.compute.following import FOLLOW_ONE_BY_ONE, FollowReport, jobs_follow
from booking.compute.models import ComputeJob, JobState
from booking.compute.slurm import job_marker
from resources.clusters import default_cluster
from resources.slurm import SlurmClient, SlurmConfig, SlurmError

pytestmark = pytest.mark.django_db

# More live jobs than are read one by one: the pass reads the job table.
MANY = FOLLOW_ONE_BY_ONE + 10
SLURM_IDS = 5000


@pytest.fixture(autouse=True)
def fresh_table_reads():
    following_module._last_table_read.clear()
    yield
    following_module._last_table_read.clear()


class Slurmrestd:
    """A scripted slurmrestd: the job table is ``jobs`` plus other users' jobs; accounting knows
    nothing. ``on_table_read`` runs while the table is being read (another worker's write)."""

    def __init__(self, others=200, accounting_down=False):
        self.jobs: list[dict] = []
        self.accounting_down = accounting_down
        self.others = [
            {"job_id": 90_000 + i, "name": f"theirs-{i}", "job_state": "RUNNING"}
            for i in range(others)
        ]
        self.on_table_read = None

    def __call__(self, request: httpx.Request) -> httpx.Response:
        if request.url.path == "/slurm/v0.0.38/jobs":
            if self.on_table_read:
                self.on_table_read()
            return httpx.Response(200, json={"errors": [], "jobs": self.jobs + self.others})
        if request.url.path.startswith("/slurmdb/v0.0.38/job/"):
            if self.accounting_down:
                return httpx.Response(503)
            return httpx.Response(404, json={"errors": [{"error_code": 9003, "error": "none"}]})
        return httpx.Response(500, json={"errors": [{"error": f"unexpected {request.url}"}]})

    def client(self) -> SlurmClient:
        config = SlurmConfig(base_url="http://slurm.test", user="parkbook", token="t", retries=0)
        return SlurmClient(config, transport=httpx.MockTransport(self))


def epoch(moment: dt.datetime) -> int:
    return int(moment.timestamp())


def record(job, state, *, start=None, end=None, exit_code=0, **overrides) -> dict:
    """``job`` as slurmctld's job table lists it (``exit_code``: the script's return code)."""
    values = {
        "job_id": job.slurm_job_id,
        "name": job.slurm_name,
        "comment": job_marker(job),
        "user_name": "alice",
        "job_state": state,
        "state_reason": "None",
        "exit_code": exit_code << 8,
        "start_time": epoch(start or job.started_at or timezone.now()),
        "end_time": epoch(end) if end else 0,
        "tres_alloc_str": f"cpu=2,gres/gpu={job.gpus}",
    }
    values.update(overrides)
    return values


def live_jobs(park, count, *, state=JobState.RUNNING, started=None) -> list[ComputeJob]:
    """``count`` jobs live in Slurm (1 GPU each), submitted 40 minutes ago."""
    now = timezone.now().replace(microsecond=0)
    first = SLURM_IDS + ComputeJob.objects.count()
    if started is None and state == JobState.RUNNING:
        started = now - dt.timedelta(minutes=30)
    created = ComputeJob.objects.bulk_create(
        ComputeJob(
            tenant=park.acme,
            user=park.alice,
            cluster=default_cluster(),
            name=f"train-{i}",
            script="#!/bin/bash\ntrue\n",
            partition="gpu",
            gpus=1,
            time_limit_minutes=120,
            state=state,
            slurm_job_id=first + i,
            submitted_at=now - dt.timedelta(minutes=40),
            started_at=started,
        )
        for i in range(count)
    )
    return list(ComputeJob.objects.filter(pk__in=[job.pk for job in created]).order_by("pk"))


def statements_of_a_pass(park, *, unchanged, started, ended) -> tuple[int, FollowReport]:
    """The SQL statements of one pass over ``unchanged`` running jobs Slurm says nothing new
    of, ``started`` pending jobs that now run and ``ended`` running jobs that completed."""
    ComputeJob.objects.all().delete()
    following_module._last_table_read.clear()
    slurm = Slurmrestd()
    now = timezone.now().replace(microsecond=0)
    for job in live_jobs(park, unchanged):
        slurm.jobs.append(record(job, "RUNNING"))
    for i, job in enumerate(live_jobs(park, started, state=JobState.PENDING)):
        slurm.jobs.append(record(job, "RUNNING", start=now - dt.timedelta(seconds=i)))
    for i, job in enumerate(live_jobs(park, ended)):
        slurm.jobs.append(record(job, "COMPLETED", end=now - dt.timedelta(seconds=i)))
    default_cluster()  # created before counting, as it is after the first pass
    with slurm.client() as client, CaptureQueriesContext(connection) as queries:
        report = jobs_follow(client=client)
    return len(queries), report


def test_unchanged_live_jobs_cost_no_statements_however_many(park):
    few, report = statements_of_a_pass(park, unchanged=MANY, started=3, ended=3)
    assert report == FollowReport(followed=MANY + 6, changed=6, ended=3)
    many, report = statements_of_a_pass(park, unchanged=3 * MANY, started=3, ended=3)
    assert report == FollowReport(followed=3 * MANY + 6, changed=6, ended=3)
    assert many == few


def test_changed_jobs_are_written_together_not_one_statement_each(park):
    few, _report = statements_of_a_pass(park, unchanged=MANY, started=2, ended=2)
    many, report = statements_of_a_pass(park, unchanged=MANY, started=40, ended=40)
    assert report == FollowReport(followed=MANY + 80, changed=80, ended=40)
    assert many == few
    started = ComputeJob.objects.filter(state=JobState.RUNNING, started_at__isnull=False)
    assert started.count() == MANY + 40
    # Each keeps its own start and end, though one statement wrote them.
    assert len(set(started.values_list("started_at", flat=True))) == 40 + 1
    ended = ComputeJob.objects.filter(state=JobState.COMPLETED)
    assert len(set(ended.values_list("ended_at", flat=True))) == 40


def test_a_mixed_pass_records_each_job_as_slurm_says(park):
    slurm = Slurmrestd()
    now = timezone.now().replace(microsecond=0)
    steady = live_jobs(park, MANY)
    slurm.jobs += [record(job, "RUNNING") for job in steady]
    first, second, lost = live_jobs(park, 3, state=JobState.PENDING)
    completed, failed, timed_out, gone = live_jobs(park, 4)
    ComputeJob.objects.filter(pk=gone.pk).update(started_at=now - dt.timedelta(hours=3))
    slurm.jobs += [
        record(first, "RUNNING", start=now - dt.timedelta(minutes=2)),
        record(second, "RUNNING", start=now - dt.timedelta(minutes=1)),
        # The id now names another job (a controller crash reissued it); accounting has none.
        record(lost, "RUNNING", name="park-99999", comment="park-booking:99999:1"),
        record(completed, "COMPLETED", end=completed.started_at + dt.timedelta(minutes=15)),
        record(failed, "FAILED", exit_code=3, end=now),
        record(timed_out, "TIMEOUT", end=now),
        # gone: in neither the table nor accounting.
    ]
    before = {job.pk: job.updated_at for job in steady}

    with slurm.client() as client:
        report = jobs_follow(client=client)

    assert report == FollowReport(followed=MANY + 7, changed=6, ended=4, vanished=1)
    rows = ComputeJob.objects.in_bulk()
    # The unchanged jobs were not written at all.
    assert all(rows[pk].updated_at == at for pk, at in before.items())
    assert all(rows[job.pk].state == JobState.RUNNING for job in steady)
    assert (rows[first.pk].state, rows[first.pk].started_at) == (
        JobState.RUNNING,
        now - dt.timedelta(minutes=2),
    )
    assert rows[second.pk].started_at == now - dt.timedelta(minutes=1)
    assert rows[lost.pk].state == JobState.QUEUED and rows[lost.pk].slurm_job_id is None
    assert "given to another job" in rows[lost.pk].last_error
    done = rows[completed.pk]
    assert (done.state, done.exit_code, done.reason_code) == (JobState.COMPLETED, 0, "")
    assert done.ended_at == completed.started_at + dt.timedelta(minutes=15)
    assert float(done.gpu_hours) == pytest.approx(0.25)
    assert (rows[failed.pk].state, rows[failed.pk].exit_code) == (JobState.FAILED, 3)
    assert rows[failed.pk].reason_params == {"code": 3}
    assert (rows[timed_out.pk].state, rows[timed_out.pk].reason_code) == (
        JobState.TIMEOUT,
        "time_limit",
    )
    assert (rows[gone.pk].state, rows[gone.pk].reason_code) == (JobState.FAILED, "vanished")
    # A second pass finds only the steady and started jobs live, and nothing new of them.
    with slurm.client() as client:
        assert jobs_follow(client=client) == FollowReport(followed=MANY + 2)


def test_a_job_that_moved_meanwhile_is_left_as_it_is(park):
    slurm = Slurmrestd()
    jobs = live_jobs(park, MANY)
    end = timezone.now().replace(microsecond=0)
    slurm.jobs += [record(job, "COMPLETED", end=end) for job in jobs]
    moved = jobs[7]

    def cancelled_meanwhile():
        # Another worker records the job ended while the follower reads the table.
        ComputeJob.objects.filter(pk=moved.pk).update(
            state=JobState.CANCELLED, ended_at=end - dt.timedelta(minutes=5), reason_code="x"
        )

    slurm.on_table_read = cancelled_meanwhile
    with slurm.client() as client:
        report = jobs_follow(client=client)

    assert report == FollowReport(followed=MANY, changed=MANY - 1, ended=MANY - 1)
    moved.refresh_from_db()
    assert (moved.state, moved.reason_code) == (JobState.CANCELLED, "x")
    assert moved.ended_at == end - dt.timedelta(minutes=5)
    assert ComputeJob.objects.filter(state=JobState.COMPLETED).count() == MANY - 1


def test_a_batch_that_cannot_be_written_is_written_row_by_row(park, monkeypatch):
    slurm = Slurmrestd()
    jobs = live_jobs(park, MANY)
    end = timezone.now().replace(microsecond=0)
    slurm.jobs += [record(job, "COMPLETED", end=end) for job in jobs]
    bad = jobs[3]
    real = following_module._batch_write

    def refusing(state, batch):
        if any(change.pk == bad.pk for change in batch):
            raise ValueError("a bad row")
        return real(state, batch)

    monkeypatch.setattr(following_module, "_batch_write", refusing)
    with slurm.client() as client:
        report = jobs_follow(client=client)

    assert report == FollowReport(followed=MANY, changed=MANY - 1, ended=MANY - 1)
    bad.refresh_from_db()
    assert bad.state == JobState.RUNNING
    assert ComputeJob.objects.filter(state=JobState.COMPLETED).count() == MANY - 1


def test_what_was_read_before_slurm_went_away_is_kept(park):
    slurm = Slurmrestd(accounting_down=True)
    jobs = live_jobs(park, MANY)
    end = timezone.now().replace(microsecond=0)
    # The last job is missing from the table, and accounting cannot be asked about it.
    slurm.jobs += [record(job, "COMPLETED", end=end) for job in jobs[:-1]]
    with slurm.client() as client, pytest.raises(SlurmError) as raised:
        jobs_follow(client=client)
    assert raised.value.transient
    assert ComputeJob.objects.filter(state=JobState.COMPLETED).count() == MANY - 1
    assert ComputeJob.objects.get(pk=jobs[-1].pk).state == JobState.RUNNING
