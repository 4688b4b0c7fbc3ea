"""job_submit's checks and job_send's exactly-once rules, with a scripted Slurm.

The same flow runs against the real cluster in tests/slurm/test_job_flow.py.
"""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

from booking.compute.models import ComputeJob, JobState
from booking.compute.selectors import job_get, jobs_for_user
from booking.compute.sending import job_send, jobs_send_due
from booking.compute.services import job_submit
from booking.compute.slurm import job_marker
from booking.errors import NotFound, ParkError
from booking.tenancy.models import Membership
from resources.slurm import JobInfo, NodeInfo, PartitionInfo, SlurmError
from resources.slurm import JobState as SlurmState

pytestmark = pytest.mark.django_db


class FakeSlurm:
    """Partitions gpu (gpu01-02: 4× a100, gpu03: 8× h100) and cpu; scripted submit answers."""

    def __init__(self, *submit_answers, down=False):
        self.submit_answers = list(submit_answers) or [101]
        self.submitted = []
        self.table: list[JobInfo] = []
        self.down = down

    def partitions(self):
        if self.down:
            raise SlurmError("cannot reach slurmrestd", transient=True)
        return [
            PartitionInfo(
                name="gpu",
                nodes=("gpu01", "gpu02", "gpu03"),
                state="UP",
                total_cpus=96,
                total_nodes=3,
                max_time_minutes=7 * 24 * 60,
                default_time_minutes=60,
                gpus=16,
            ),
            PartitionInfo(
                name="cpu",
                nodes=("cpu01",),
                state="UP",
                total_cpus=64,
                total_nodes=1,
                max_time_minutes=2 * 24 * 60,
                default_time_minutes=60,
                is_default=True,
            ),
        ]

    def nodes(self):
        def node(name, gpu_type, count, part):
            return NodeInfo(
                name=name,
                state="idle",
                cpus=32,
                memory_mb=128000,
                gpu_type=gpu_type,
                gpu_count=count,
                gres=f"gpu:{gpu_type}:{count}" if gpu_type else "",
                partitions=(part,),
            )

        return [
            node("gpu01", "a100", 4, "gpu"),
            node("gpu02", "a100", 4, "gpu"),
            node("gpu03", "h100", 8, "gpu"),
            node("cpu01", None, 0, "cpu"),
        ]

    def submit(self, spec, *, user=None, reconcile=None):
        answer = (
            self.submit_answers.pop(0) if len(self.submit_answers) > 1 else self.submit_answers[0]
        )
        if isinstance(answer, SlurmError):
            if answer.ambiguous:
                # Slurm queued it, but the answer was lost.
                self.table.append(
                    JobInfo(
                        job_id=900, name=spec.name, comment=spec.comment, state=SlurmState.PENDING
                    )
                )
            raise answer
        self.submitted.append((spec, user))
        self.table.append(
            JobInfo(job_id=answer, name=spec.name, comment=spec.comment, state=SlurmState.PENDING)
        )
        return answer

    def list_jobs(self, *, name_prefix=None, **_):
        return [j for j in self.table if name_prefix is None or j.name.startswith(name_prefix)]

    def accounting_jobs(self, **_):
        raise SlurmError("no slurmdbd", http_status=404)

    def cancel(self, job_id):
        return True

    def get_job(self, job_id):
        return next((j for j in self.table if j.job_id == job_id), None)


def submit(park, client, **overrides):
    values = dict(
        user=park.alice,
        tenant=park.acme,
        name="train",
        script="#!/bin/bash\ntrue\n",
        partition="gpu",
        gpus=1,
        time_limit_minutes=60,
        client=client,
    )
    values.update(overrides)
    return job_submit(**values)


def refused(code, park, client, **overrides):
    with pytest.raises(ParkError) as caught:
        submit(park, client, **overrides)
    assert caught.value.code == code, caught.value.message
    assert not ComputeJob.objects.exists()
    return caught.value


def test_a_valid_job_is_stored_queued_and_sent_after_commit(
    park, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks() as callbacks:
        job = submit(park, FakeSlurm())
    assert job.state == JobState.QUEUED and job.slurm_job_id is None
    assert len(callbacks) == 1


def test_it_refuses_a_user_without_a_cluster_identity(park):
    Membership.objects.filter(user=park.alice).update(cluster_username="")
    error = refused("no_cluster_identity", park, FakeSlurm())
    assert error.field == "user"


def test_it_refuses_someone_outside_the_tenant(park):
    refused("not_a_member", park, FakeSlurm(), user=park.charlie)


def test_it_refuses_a_job_beyond_the_gpu_quota(park):
    # acme has 100 GPU-hours a week.
    submit(park, FakeSlurm(), gpus=4, time_limit_minutes=24 * 60)  # holds 96
    error = refused_after_one("quota_exceeded", park, gpus=4, time_limit_minutes=120)
    assert "4.00" in error.message and "8.00" in error.message


def test_a_job_that_uses_the_quota_up_exactly_is_stored_and_the_next_minute_refused(park):
    # The quota check sums use with the job's own row already in it: the boundary is exact.
    submit(park, FakeSlurm(), gpus=4, time_limit_minutes=24 * 60)  # holds 96 of 100
    submit(park, FakeSlurm(), gpus=4, time_limit_minutes=60)  # holds the last 4
    with pytest.raises(ParkError) as caught:
        submit(park, FakeSlurm(), gpus=1, time_limit_minutes=1)
    assert caught.value.code == "quota_exceeded"
    assert ComputeJob.objects.count() == 2


def refused_after_one(code, park, **overrides):
    with pytest.raises(ParkError) as caught:
        submit(park, FakeSlurm(), **overrides)
    assert caught.value.code == code
    assert ComputeJob.objects.count() == 1
    return caught.value


def test_quota_counts_only_the_own_tenant(park):
    submit(park, FakeSlurm(), gpus=4, time_limit_minutes=24 * 60)
    submit(park, FakeSlurm(), user=park.charlie, tenant=park.globex, gpus=4, time_limit_minutes=120)


def test_a_cpu_job_needs_no_gpu_quota(park):
    submit(park, FakeSlurm(), gpus=4, time_limit_minutes=24 * 60)
    submit(park, FakeSlurm(), partition="cpu", gpus=0, time_limit_minutes=600)


def test_it_refuses_partition_limits(park):
    refused("unknown_partition", park, FakeSlurm(), partition="nope")
    refused("time_limit_too_long", park, FakeSlurm(), time_limit_minutes=8 * 24 * 60)
    refused("too_many_gpus", park, FakeSlurm(), gpus=9)
    refused("too_many_cpus", park, FakeSlurm(), cpus=64)
    refused("partition_required", park, FakeSlurm(), partition="")


def test_a_pool_sets_partition_and_gpu_model(park):
    job = submit(park, FakeSlurm(), pool=park.pool_gpu, partition="", gpus=4)
    assert job.partition == "gpu"
    # The pool holds A100 nodes (4 GPUs): 8 would only fit an H100 node.
    refused_after_one("too_many_gpus", park, pool=park.pool_gpu, partition="", gpus=8)


def test_limits_are_left_to_slurm_while_it_is_unreachable(park):
    job = submit(park, FakeSlurm(down=True), partition="whatever")
    assert job.state == JobState.QUEUED


def booking(park, *, hours_from_now=2, length_hours=2, units=2):
    from booking.bookings.services import booking_create_instant

    start = timezone.now().replace(minute=0, second=0, microsecond=0) + dt.timedelta(
        hours=hours_from_now
    )
    return booking_create_instant(
        user=park.alice,
        tenant=park.acme,
        resource=park.gpu,
        start=start,
        end=start + dt.timedelta(hours=length_hours),
        units=units,
        title="run",
    )


def test_a_job_in_a_booking_must_fit_its_window_and_gpus(park):
    b = booking(park)
    ComputeJob.objects.all().delete()
    refused("booking_too_short", park, FakeSlurm(), booking=b, partition="", time_limit_minutes=121)
    refused("booking_too_few_gpus", park, FakeSlurm(), booking=b, partition="", gpus=3)
    job = submit(park, FakeSlurm(), booking=b, partition="", gpus=2, time_limit_minutes=120)
    assert job.partition == "gpu" and job.booking == b


def test_another_tenants_booking_is_not_found(park):
    b = booking(park)
    with pytest.raises(NotFound):
        submit(park, FakeSlurm(), user=park.charlie, tenant=park.globex, booking=b, partition="")


def test_job_send_records_slurms_id(park):
    fake = FakeSlurm(555)
    job = job_send(job_id=submit(park, fake).pk, client=fake)
    assert (job.state, job.slurm_job_id, job.submit_attempts) == (JobState.PENDING, 555, 1)
    spec, user = fake.submitted[0]
    assert user == "alice"
    assert spec.account == "acme" and spec.name == job.slurm_name
    assert spec.comment == job_marker(job)


def test_job_send_retries_later_after_a_transient_failure(park):
    fake = FakeSlurm(SlurmError("cannot reach slurmrestd", transient=True), 556)
    job = submit(park, fake)
    now = timezone.now()
    job = job_send(job_id=job.pk, client=fake, now=now)
    assert job.state == JobState.QUEUED and "cannot reach" in job.last_error
    assert job.next_attempt_at == now + dt.timedelta(seconds=5)
    assert job_send(job_id=job.pk, client=fake, now=now) is None  # not due yet
    job = job_send(job_id=job.pk, client=fake, now=now + dt.timedelta(seconds=6))
    assert (job.state, job.slurm_job_id) == (JobState.PENDING, 556)


def test_a_refusal_fails_the_job_with_slurms_reason(park):
    fake = FakeSlurm(SlurmError("Invalid account", error_code=2045, http_status=500))
    job = job_send(job_id=submit(park, fake).pk, client=fake)
    assert job.state == JobState.FAILED
    assert job.reason == "Slurm refused the job: Invalid account (Slurm error 2045)"
    assert job.gpu_hours == 0 and job.ended_at is not None


def test_after_a_lost_answer_the_job_is_found_in_slurm_not_sent_twice(park):
    lost = SlurmError("no answer", transient=True, ambiguous=True)
    fake = FakeSlurm(lost, 557)
    job = submit(park, fake)
    now = timezone.now()
    assert job_send(job_id=job.pk, client=fake, now=now).state == JobState.QUEUED
    assert jobs_send_due(client=fake, now=now + dt.timedelta(minutes=1)) == 1
    job.refresh_from_db()
    assert (job.state, job.slurm_job_id) == (JobState.PENDING, 900)
    assert fake.submitted == []


def test_a_job_claimed_by_a_live_worker_is_not_sent_again(park):
    fake = FakeSlurm(558)
    job = submit(park, fake)
    now = timezone.now()
    ComputeJob.objects.filter(pk=job.pk).update(
        submit_attempts=1, next_attempt_at=now + dt.timedelta(minutes=2)
    )
    assert job_send(job_id=job.pk, client=fake, now=now) is None
    assert fake.submitted == []


def test_jobs_are_visible_to_their_owner_and_tenant_managers_only(park):
    job = submit(park, FakeSlurm())
    assert job_get(user=park.alice, pk=job.pk) == job
    assert job_get(user=park.bob, pk=job.pk) == job  # manager of acme
    with pytest.raises(NotFound):
        job_get(user=park.charlie, pk=job.pk)
    with pytest.raises(NotFound):
        job_get(user=park.alice, pk="1; drop table")
    assert list(jobs_for_user(user=park.alice)) == [job]
    assert list(jobs_for_user(user=park.charlie)) == []


def test_a_job_cancelled_while_being_sent_is_cancelled_in_slurm_too(park):
    from booking.compute.services import job_cancel

    class CancelDuringSubmit(FakeSlurm):
        cancelled: list[int] = []

        def submit(self, spec, **kwargs):
            job_cancel(user=park.alice, job=ComputeJob.objects.get(pk=job.pk))
            return super().submit(spec, **kwargs)

        def cancel(self, job_id):
            self.cancelled.append(job_id)
            return True

    fake = CancelDuringSubmit(559)
    job = submit(park, fake)
    sent = job_send(job_id=job.pk, client=fake)
    assert sent.state == JobState.CANCELLED
    assert sent.slurm_job_id == 559 and fake.cancelled == [559]


def test_without_a_configured_cluster_submission_is_refused_and_queued_jobs_wait(park, settings):
    from django.core.exceptions import ImproperlyConfigured

    job = submit(park, FakeSlurm())
    settings.SLURM_REST_URL = ""
    with pytest.raises(ImproperlyConfigured):
        submit(park, None)
    job = job_send(job_id=job.pk)
    assert job.state == JobState.QUEUED and "not configured" in job.last_error
    assert job.next_attempt_at is not None
    assert jobs_send_due(now=timezone.now() + dt.timedelta(hours=1)) == 0


def test_the_follower_takes_over_a_killed_workers_lease_and_releases_its_own(park, settings):
    from booking.compute.tasks import jobs_follow_loop, jobs_follow_task
    from booking.models import Lease

    settings.SLURM_REST_URL = ""
    settings.SLURM_FOLLOW_TASK_SECONDS = 0
    # A live follower elsewhere: this one stands aside.
    Lease.objects.create(
        name="jobs-follow", holder="other", expires_at=timezone.now() + dt.timedelta(seconds=30)
    )
    assert jobs_follow_loop(0) is None
    # That worker was killed (kill -9): its lease lapses and a plain restart follows again.
    Lease.objects.filter(name="jobs-follow").update(
        expires_at=timezone.now() - dt.timedelta(seconds=1)
    )
    submit(park, FakeSlurm())
    assert jobs_follow_loop(0) == 1
    assert not Lease.objects.filter(name="jobs-follow").exists()
    assert jobs_follow_task.call_local() is None  # stores no result


class FollowSlurm(FakeSlurm):
    """slurmctld's table forgot the job; accounting (slurmdbd) may still know it."""

    def __init__(self, accounting=None):
        super().__init__()
        self.accounting = accounting or {}
        self.asked = []

    def accounting_job(self, job_id, *, name=None, user=None):
        self.asked.append((job_id, name))
        return self.accounting.get(job_id)


def running_job(park, *, slurm_id=4242, started_ago=dt.timedelta(minutes=30)):
    job = submit(park, FakeSlurm())
    now = timezone.now()
    ComputeJob.objects.filter(pk=job.pk).update(
        state=JobState.RUNNING,
        slurm_job_id=slurm_id,
        submitted_at=now - started_ago - dt.timedelta(minutes=1),
        started_at=now - started_ago,
    )
    job.refresh_from_db()
    return job


def test_a_job_gone_from_slurms_table_is_ended_from_accounting(park):
    from booking.compute.following import jobs_follow

    job = running_job(park)
    start = job.started_at
    end = start + dt.timedelta(minutes=20)
    slurm = FollowSlurm(
        {
            4242: JobInfo(
                job_id=4242,
                name=job.slurm_name,
                comment=job_marker(job),
                state=SlurmState.COMPLETED,
                gpus=1,
                start_time=start,
                end_time=end,
                exit_code=0,
            )
        }
    )
    report = jobs_follow(client=slurm)
    job.refresh_from_db()
    assert slurm.asked == [(4242, job.slurm_name)]  # by id and name: ids are reused
    assert (report.ended, report.vanished) == (1, 0)
    assert job.state == JobState.COMPLETED and job.ended_at == end and job.exit_code == 0
    assert float(job.gpu_hours) == pytest.approx(20 / 60, abs=0.001)


def test_a_job_nobody_knows_any_more_is_ended_not_left_running(park):
    from booking.compute.following import jobs_follow

    job = running_job(park, started_ago=dt.timedelta(hours=3))  # time limit: 60 min
    report = jobs_follow(client=FollowSlurm())
    job.refresh_from_db()
    assert (report.ended, report.vanished) == (1, 1)
    assert job.state == JobState.FAILED and job.ended_at is not None
    assert "no longer knows" in job.reason
    # Charged for at most its time limit: 1 GPU × 1 h.
    assert float(job.gpu_hours) == pytest.approx(1.0)
    # A second pass changes nothing.
    assert jobs_follow(client=FollowSlurm()).followed == 0


def test_a_just_submitted_job_missing_from_the_table_is_given_time(park):
    from booking.compute.following import jobs_follow

    job = submit(park, FakeSlurm())
    ComputeJob.objects.filter(pk=job.pk).update(
        state=JobState.PENDING, slurm_job_id=77, submitted_at=timezone.now()
    )
    report = jobs_follow(client=FollowSlurm())
    job.refresh_from_db()
    assert (report.ended, report.vanished) == (0, 0)
    assert job.state == JobState.PENDING
