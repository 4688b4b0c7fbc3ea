"""Background work of compute jobs. Tasks pass ids and call the job services (sending, following)."""

from __future__ import annotations

import logging
import time

from django.conf import settings
from huey import crontab
from huey.contrib.djhuey import db_periodic_task, db_task

from booking.compute.following import jobs_follow
from booking.compute.models import LIVE_JOB_STATES, ComputeJob, JobState
from booking.compute.sending import job_send, jobs_send_due
from booking.leases import lease_acquire, lease_release, lease_renew
from resources.slurm import SlurmError

logger = logging.getLogger(__name__)

FOLLOW_LEASE = "jobs-follow"
# Longer than one pass (a Slurm read and the follow interval); renewed after every pass.
FOLLOW_LEASE_SECONDS = 90


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
    A lease (holder + expiry, renewed every pass) keeps one follower at a time; a follower
    that dies releases it by expiry."""
    passes = 0
    holder = lease_acquire(name=FOLLOW_LEASE, seconds=FOLLOW_LEASE_SECONDS)
    if holder is None:
        logger.debug("another follower is running")
        return passes
    try:
        deadline = time.monotonic() + 55
        while time.monotonic() < deadline:
            jobs_tick()
            passes += 1
            if not ComputeJob.objects.filter(state__in=LIVE_JOB_STATES).exists():
                break
            if not lease_renew(name=FOLLOW_LEASE, holder=holder, seconds=FOLLOW_LEASE_SECONDS):
                break  # our lease expired and another follower took over
            time.sleep(_follow_interval())
    finally:
        lease_release(name=FOLLOW_LEASE, holder=holder)
    return passes


def jobs_tick() -> None:
    """One round of background job work; a Slurm outage is logged, not raised."""
    try:
        jobs_send_due()
        jobs_follow()
    except SlurmError as error:
        logger.warning("Slurm unreachable while following jobs: %s", error)
