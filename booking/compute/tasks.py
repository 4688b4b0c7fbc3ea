"""Background work of compute jobs. Tasks pass ids and call the job services (sending, following)."""

from __future__ import annotations

import logging
import time

from django.conf import settings
from huey import crontab
from huey.constants import EmptyData
from huey.contrib.djhuey import HUEY, db_periodic_task, db_task

from booking.compute.cancelling import job_cancel_send, jobs_cancel_due
from booking.compute.following import jobs_follow
from booking.compute.models import LIVE_JOB_STATES, ComputeJob, JobState
from booking.compute.sending import SEND_BATCH, jobs_send_batch, jobs_send_due
from booking.leases import lease_acquire, lease_release, lease_renew
from resources.clusters import Cluster, ClusterState, clusters
from resources.slurm import SlurmError

logger = logging.getLogger(__name__)

FOLLOW_LEASE = "jobs-follow"


# A send task queued for a cluster and not started yet takes every job of that cluster that is
# due when it starts: a job stored meanwhile needs no task of its own. The mark lives in huey's
# storage (Redis, or huey's SQLite file: shared by the web and worker processes) and holds the
# time it was set; a mark older than this is stale (its setter died before queuing the task, or
# the task's worker died before starting it) and is set again.
SEND_PENDING_STALE_SECONDS = 30.0


def _send_pending_key(cluster_id: int | None) -> str:
    return f"park:jobs-send-pending:{cluster_id}"


def job_send_soon(job_id: int, *, cluster_id: int | None) -> bool:
    """Have a stored job sent: queue ``job_submit_task`` unless a send task of its cluster is
    queued and not started yet (that task's batch takes this job too). Returns whether a task
    was queued. The queue unreachable: raises, as queuing the task would (the sweep sends it).

    Under a burst of submissions this turns one task per job into one per batch: the worker
    claims, sends and records many jobs at once instead of one task's overhead each."""
    storage = HUEY.storage
    key = _send_pending_key(cluster_id)
    now = time.time()
    if not storage.put_if_empty(key, repr(now).encode()):
        since = storage.peek_data(key)
        try:
            fresh = since is not EmptyData and now - float(since) < SEND_PENDING_STALE_SECONDS
        except (TypeError, ValueError):
            fresh = False
        if fresh:
            return False
        storage.put_data(key, repr(now).encode())
    job_submit_task(job_id)
    return True


@db_task()
def job_submit_task(job_id: int) -> None:
    """Send a job to Slurm (started when its row is committed), with the other jobs of its
    cluster that are due (``jobs_send_batch``: one claim, concurrent sends, one recording
    UPDATE), batch after batch while batches come back full; a job another task's batch took
    already is left to it. After a transient failure each job of the batch is scheduled for
    its next attempt; the periodic sweep is the safety net."""
    cluster = Cluster.objects.filter(jobs__pk=job_id).first()
    # From here on, a job stored needs a task of its own again (this one may have claimed
    # before it was committed).
    HUEY.storage.delete_data(_send_pending_key(cluster.pk if cluster else None))
    first_id: int | None = job_id
    while True:
        batch = jobs_send_batch(cluster=cluster, first_id=first_id)
        for job in batch:
            if job.state == JobState.QUEUED and job.next_attempt_at is not None:
                job_submit_task.schedule((job.pk,), eta=job.next_attempt_at)
        if len(batch) < SEND_BATCH or any(
            job.state == JobState.QUEUED and job.last_error for job in batch
        ):
            break  # nothing more due, or the cluster did not take them: the retries wait
        first_id = None
    # Returns nothing: huey stores no result nobody reads.


@db_task()
def job_cancel_task(job_id: int) -> None:
    """Send a job's recorded cancel to Slurm (queued when ``job_cancel`` commits). Slurm down:
    it schedules itself for the next try; the follower's sweep is the safety net."""
    job = job_cancel_send(job_id=job_id)
    if job is not None and job.cancel_sent_at is None and job.next_cancel_at is not None:
        job_cancel_task.schedule((job_id,), eta=job.next_cancel_at)


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
    lease (booking.leases: holder + expiry, renewed every pass) keeps one follower at a time;
    a follower that dies releases it by expiry. Returns the passes made (None: another
    follower holds the lease)."""
    passes = 0
    holder = lease_acquire(name=FOLLOW_LEASE, seconds=FOLLOW_LEASE_SECONDS)
    if holder is None:
        logger.debug("another follower is running")
        return None
    try:
        deadline = time.monotonic() + seconds
        while True:
            if not lease_renew(name=FOLLOW_LEASE, holder=holder, seconds=FOLLOW_LEASE_SECONDS):
                logger.warning("the follower's lease lapsed; another follower took over")
                break
            live = ComputeJob.objects.filter(state__in=LIVE_JOB_STATES).exists()
            if live:
                jobs_tick()
                passes += 1
            pause = _follow_interval() if live else _idle_interval()
            if time.monotonic() + pause >= deadline:
                break
            time.sleep(pause)
    finally:
        lease_release(name=FOLLOW_LEASE, holder=holder)
    return passes


def jobs_tick() -> None:
    """One round of background job work, cluster by cluster: one cluster's outage is logged,
    not raised, and does not stop the work on the others."""
    for cluster in clusters():
        if cluster.state == ClusterState.DOWN:
            continue
        try:
            jobs_send_due(cluster=cluster)  # a draining cluster still runs what it accepted
            jobs_cancel_due(cluster=cluster)
            jobs_follow(cluster=cluster)
        except SlurmError as error:
            logger.warning("Slurm cluster %s unreachable while following jobs: %s", cluster, error)
