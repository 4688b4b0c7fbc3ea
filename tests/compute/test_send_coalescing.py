"""Send tasks coalesce under a burst: a job stored while a send task of its cluster is queued
and not started yet gets no task of its own (that task's batch takes it); the task drains
batch after batch; a stale mark (its setter or its worker died) is set again."""

from __future__ import annotations

import time

import pytest
from huey.contrib.djhuey import HUEY

from booking.compute import tasks
from booking.compute.models import ComputeJob, JobState
from booking.compute.sending import SEND_BATCH
from tests.compute.test_send_batch import CountingSlurm, stored

pytestmark = pytest.mark.django_db


@pytest.fixture
def queued(monkeypatch):
    """job_submit_task queued, not run: the ids it was queued for."""
    calls = []
    monkeypatch.setattr(tasks, "job_submit_task", lambda job_id: calls.append(job_id))
    return calls


@pytest.fixture
def slurm(monkeypatch):
    client = CountingSlurm()
    monkeypatch.setattr("booking.compute.sending.configured_cluster_client", lambda c: client)
    return client


def cluster_of(pk):
    return ComputeJob.objects.get(pk=pk).cluster_id


def test_jobs_stored_while_a_task_waits_get_no_task_of_their_own_and_its_batch_sends_them(
    park, slurm, queued, monkeypatch
):
    first, second, third = stored(park, 3, slurm)
    cluster = cluster_of(first)
    assert tasks.job_send_soon(first, cluster_id=cluster) is True
    assert tasks.job_send_soon(second, cluster_id=cluster) is False
    assert tasks.job_send_soon(third, cluster_id=cluster) is False
    assert queued == [first]
    # Another cluster's jobs have their own mark.
    assert tasks.job_send_soon(second, cluster_id=cluster + 1000) is True
    monkeypatch.undo()  # the real task, as the worker runs it
    monkeypatch.setattr("booking.compute.sending.configured_cluster_client", lambda c: slurm)
    tasks.job_submit_task.call_local(first)
    rows = ComputeJob.objects.filter(pk__in=[first, second, third])
    assert all(r.state == JobState.PENDING and r.slurm_job_id for r in rows)
    assert len(slurm.submitted) == 3
    # Started, the task cleared its mark: the next job stored queues a task again.
    calls = []
    monkeypatch.setattr(tasks, "job_submit_task", lambda job_id: calls.append(job_id))
    (fourth,) = stored(park, 1, slurm)
    assert tasks.job_send_soon(fourth, cluster_id=cluster) is True
    assert calls == [fourth]


def test_a_stale_mark_is_set_again_and_the_job_gets_its_task(park, slurm, queued):
    (job,) = stored(park, 1, slurm)
    cluster = cluster_of(job)
    key = tasks._send_pending_key(cluster)
    HUEY.storage.put_data(key, repr(time.time() - tasks.SEND_PENDING_STALE_SECONDS - 1).encode())
    assert tasks.job_send_soon(job, cluster_id=cluster) is True
    assert queued == [job]
    # The fresh mark now holds back the next one.
    assert tasks.job_send_soon(job, cluster_id=cluster) is False
    HUEY.storage.put_data(key, b"not a time")
    assert tasks.job_send_soon(job, cluster_id=cluster) is True


def test_one_task_drains_a_backlog_batch_after_batch_each_job_once(park, slurm):
    jobs = stored(park, SEND_BATCH + 7, slurm)  # two batches (the quota allows 100)
    tasks.job_submit_task.call_local(jobs[-1])
    rows = list(ComputeJob.objects.all())
    assert all(r.state == JobState.PENDING for r in rows)
    assert len({r.slurm_job_id for r in rows}) == len(jobs) == len(slurm.submitted)
