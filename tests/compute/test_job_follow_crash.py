"""The follower after Slurm lost jobs (controller crash): a record is applied only when its name
and marker are ours; a reissued id is let go (sent again or ended with a reason), never adopted;
one bad row does not stop the pass for the others."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

from booking.compute import following as following_module
from booking.compute.following import jobs_follow
from booking.compute.models import ComputeJob, JobState
from booking.compute.sending import job_send
from booking.compute.slurm import job_marker
from resources.slurm import JobInfo
from resources.slurm import JobState as SlurmState
from tests.compute.test_job_submit import FakeSlurm, FollowSlurm, running_job, submit

pytestmark = pytest.mark.django_db


def pending_job(park, *, slurm_id, submitted_ago=dt.timedelta(minutes=10)):
    job = submit(park, FakeSlurm())
    ComputeJob.objects.filter(pk=job.pk).update(
        state=JobState.PENDING, slurm_job_id=slurm_id, submitted_at=timezone.now() - submitted_ago
    )
    job.refresh_from_db()
    return job


def stranger(job_id, *, state=SlurmState.COMPLETED):
    now = timezone.now()
    return JobInfo(
        job_id=job_id,
        name="park-99999",
        comment="park-booking:99999:1",
        state=state,
        gpus=8,
        start_time=now - dt.timedelta(hours=2),
        end_time=now,
        exit_code=0,
    )


def test_a_reissued_id_is_not_adopted_and_the_job_is_sent_again(park):
    job = pending_job(park, slurm_id=500)
    slurm = FollowSlurm()
    slurm.table = [stranger(500)]
    jobs_follow(client=slurm)
    job.refresh_from_db()
    assert job.state == JobState.QUEUED and job.slurm_job_id is None
    assert job.gpu_hours == 0 and "given to another job" in job.last_error
    # The sweep sends it again; it gets its own new id.
    slurm.submit_answers = [501]
    sent = job_send(job_id=job.pk, client=slurm)
    assert sent.state == JobState.PENDING and sent.slurm_job_id == 501


def test_a_started_job_whose_id_was_reissued_ends_with_a_reason_or_its_own_record(park):
    job = running_job(park, slurm_id=600)
    slurm = FollowSlurm()
    slurm.table = [stranger(600, state=SlurmState.RUNNING)]
    jobs_follow(client=slurm)
    job.refresh_from_db()
    assert job.state == JobState.FAILED and "given to another job" in job.reason
    assert job.gpu_hours == 0 and job.slurm_job_id is None

    # Accounting still holds our own record under the id: that one is applied.
    other = running_job(park, slurm_id=601)
    end = other.started_at + dt.timedelta(minutes=30)
    own = JobInfo(
        job_id=601,
        name=other.slurm_name,
        comment=job_marker(other),
        state=SlurmState.COMPLETED,
        gpus=1,
        start_time=other.started_at,
        end_time=end,
        exit_code=0,
    )
    slurm = FollowSlurm({601: own})
    slurm.table = [stranger(601, state=SlurmState.PENDING)]
    jobs_follow(client=slurm)
    other.refresh_from_db()
    assert other.state == JobState.COMPLETED and float(other.gpu_hours) == pytest.approx(0.5)


def test_sending_onto_an_id_another_row_holds_releases_that_row(park):
    lost = pending_job(park, slurm_id=700)
    fresh = submit(park, FakeSlurm())
    sent = job_send(job_id=fresh.pk, client=FakeSlurm(700))
    assert sent.state == JobState.PENDING and sent.slurm_job_id == 700
    lost.refresh_from_db()
    assert lost.slurm_job_id is None and lost.state == JobState.QUEUED


def test_a_lost_job_that_never_started_is_sent_again(park):
    job = pending_job(park, slurm_id=800, submitted_ago=dt.timedelta(minutes=10))
    jobs_follow(client=FollowSlurm())
    job.refresh_from_db()
    assert job.state == JobState.QUEUED and "sent again" in job.last_error


def test_one_bad_row_does_not_stop_the_pass(park, monkeypatch):
    first = running_job(park, slurm_id=901)
    second = running_job(park, slurm_id=902)
    slurm = FollowSlurm()
    for job in (first, second):
        slurm.table.append(
            JobInfo(
                job_id=job.slurm_job_id,
                name=job.slurm_name,
                comment=job_marker(job),
                state=SlurmState.COMPLETED,
                gpus=1,
                start_time=job.started_at,
                end_time=timezone.now(),
                exit_code=0,
            )
        )
    real = following_module.job_slurm_values

    def broken(*, job, info):
        if job.pk == first.pk:
            raise ValueError("a bad row")
        return real(job=job, info=info)

    monkeypatch.setattr(following_module, "job_slurm_values", broken)
    jobs_follow(client=slurm)
    first.refresh_from_db()
    second.refresh_from_db()
    assert first.state == JobState.RUNNING
    assert second.state == JobState.COMPLETED
