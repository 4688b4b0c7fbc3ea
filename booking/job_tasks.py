"""Background work of compute jobs. Tasks pass ids and call services (booking.services.jobs)."""

from __future__ import annotations

import logging
import time

from django.conf import settings
from huey import crontab
from huey.contrib.djhuey import db_periodic_task, db_task

from booking.models import ComputeJob, JobState
from booking.services.jobs import job_send, jobs_follow, jobs_send_due
from resources.locks import LeaseLost, lease_lock
from resources.slurm import SlurmError

logger = logging.getLogger(__name__)


@db_task()
def job_submit_task(job_id: int) -> None:
    """Send one job to Slurm (started when its row is committed). After a transient failure it
    schedules itself for the job's next attempt; the periodic sweep is the safety net."""
    job = job_send(job_id=job_id)
    if job is None:
        return
    if job.state == JobState.QUEUED and job.next_attempt_at is not None:
        job_submit_task.schedule((job_id,), eta=job.next_attempt_at)
    # Returns nothing: huey stores no result nobody reads.


def _follow_interval() -> float:
    return float(getattr(settings, "SLURM_FOLLOW_INTERVAL", 2.0))


def _idle_interval() -> float:
    return float(getattr(settings, "SLURM_FOLLOW_IDLE_INTERVAL", 5.0))


# The follower's lease: renewed every pass, so a worker killed while following (kill -9) holds
# it at most this long and the next minute's tick (in any restarted worker) takes over.
FOLLOW_LEASE_SECONDS = 30.0


@db_periodic_task(crontab(minute="*"))
def jobs_follow_task() -> None:
    """Every minute, for just under a minute (huey's periodic tasks tick once a minute at
    most): see ``jobs_follow_loop``."""
    jobs_follow_loop(float(getattr(settings, "SLURM_FOLLOW_TASK_SECONDS", 55)))


def jobs_follow_loop(seconds: float) -> int | None:
    """For ``seconds``: send due jobs and follow live ones every SLURM_FOLLOW_INTERVAL seconds,
    and look for live jobs every SLURM_FOLLOW_IDLE_INTERVAL seconds while there are none. A
    lease lock keeps one follower at a time. Returns the passes made (None: another follower
    holds the lease)."""
    passes = 0
    with lease_lock("jobs-follow", ttl=FOLLOW_LEASE_SECONDS) as held:
        if held is None:
            logger.debug("another follower is running")
            return None
        deadline = time.monotonic() + seconds
        try:
            while True:
                held.renew()
                live = ComputeJob.objects.filter(
                    state__in=[JobState.QUEUED, JobState.PENDING, JobState.RUNNING]
                ).exists()
                if live:
                    jobs_tick()
                    passes += 1
                pause = _follow_interval() if live else _idle_interval()
                if time.monotonic() + pause >= deadline:
                    break
                time.sleep(pause)
        except LeaseLost:
            logger.warning("the follower's lease lapsed; another follower took over")
    return passes


def jobs_tick() -> None:
    """One round of background job work; a Slurm outage is logged, not raised."""
    try:
        jobs_send_due()
        jobs_follow()
    except SlurmError as error:
        logger.warning("Slurm unreachable while following jobs: %s", error)
