"""Background work of compute jobs. Tasks pass ids and call services (booking.services.jobs)."""

from __future__ import annotations

import logging
import time

from django.conf import settings
from huey import crontab
from huey.contrib.djhuey import HUEY, db_periodic_task, db_task
from huey.exceptions import TaskLockedException

from booking.compute.following import jobs_follow
from booking.compute.models import ComputeJob, JobState
from booking.compute.sending import job_send, jobs_send_due
from resources.slurm import SlurmError

logger = logging.getLogger(__name__)


@db_task()
def job_submit_task(job_id: int) -> str | None:
    """Send one job to Slurm (started when its row is committed). After a transient failure it
    schedules itself for the job's next attempt; the periodic sweep is the safety net."""
    job = job_send(job_id=job_id)
    if job is None:
        return None
    if job.state == JobState.QUEUED and job.next_attempt_at is not None:
        job_submit_task.schedule((job_id,), eta=job.next_attempt_at)
    return job.state


def _follow_interval() -> float:
    return float(getattr(settings, "SLURM_FOLLOW_INTERVAL", 2.0))


@db_periodic_task(crontab(minute="*"))
def jobs_follow_task() -> int:
    """Every minute, for just under a minute: send due jobs and follow live ones every
    SLURM_FOLLOW_INTERVAL seconds (huey's periodic tasks tick once a minute at most).
    A lock keeps one follower at a time."""
    passes = 0
    try:
        with HUEY.lock_task("jobs-follow"):
            deadline = time.monotonic() + 55
            while time.monotonic() < deadline:
                jobs_tick()
                passes += 1
                if not ComputeJob.objects.filter(
                    state__in=[JobState.QUEUED, JobState.PENDING, JobState.RUNNING]
                ).exists():
                    break
                time.sleep(_follow_interval())
    except TaskLockedException:
        logger.debug("another follower is running")
    return passes


def jobs_tick() -> None:
    """One round of background job work; a Slurm outage is logged, not raised."""
    try:
        jobs_send_due()
        jobs_follow()
    except SlurmError as error:
        logger.warning("Slurm unreachable while following jobs: %s", error)
