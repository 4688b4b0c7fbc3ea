"""Sending a recorded cancel to Slurm (the worker's part of ``services.job_cancel``).

``job_cancel`` only records the intent (``cancel_requested_at``) and queues
``tasks.job_cancel_task``. The task sends the cancel under a lease per job, so two workers
never send it at once, and records ``cancel_sent_at`` once Slurm took it, so it is sent once.
Slurm down: the cancel is tried again with a growing delay (``next_cancel_at``). A worker that
dies mid-send leaves the cancel unsent: the job follower's sweep (``jobs_cancel_due``) sends
it (a cancel sent twice is harmless in Slurm: the second finds the job ending or gone).
"""

from __future__ import annotations

import datetime as dt
import logging

from django.db.models import Q
from django.utils import timezone

from booking.compute.following import job_apply_slurm_info
from booking.compute.models import LIVE_JOB_STATES, ComputeJob
from booking.compute.slurm import configured_cluster_client, jobs_of_cluster
from booking.leases import lease_acquire, lease_release
from resources.clusters import Cluster
from resources.slurm import SlurmClient, SlurmError

logger = logging.getLogger(__name__)

CANCEL_RETRY_BASE_SECONDS = 5
CANCEL_RETRY_MAX_SECONDS = 300
# One send: a call to Slurm and a look at the job; a worker dead for longer lets go.
CANCEL_LEASE_SECONDS = 120


def _due() -> Q:
    return Q(
        cancel_requested_at__isnull=False,
        cancel_sent_at__isnull=True,
        slurm_job_id__isnull=False,
        state__in=LIVE_JOB_STATES,
    )


def job_cancel_send(*, job_id: int, client: SlurmClient | None = None) -> ComputeJob | None:
    """Send the recorded cancel of one job to Slurm, then record Slurm's view of the job.

    Returns the job, or None when there is nothing to send (sent already, ended, not asked,
    or another worker is sending it). After a failure the job keeps its cancel unsent with
    ``next_cancel_at`` set: the caller schedules the next try."""
    name = f"job-cancel:{job_id}"
    holder = lease_acquire(name=name, seconds=CANCEL_LEASE_SECONDS)
    if holder is None:
        return None
    try:
        job = ComputeJob.objects.filter(_due(), pk=job_id).first()
        if job is None:
            return None
        client = client or configured_cluster_client(job.cluster)
        now = timezone.now()
        try:
            if client is None:
                raise SlurmError(
                    "Slurm is not configured (SLURM_REST_URL is unset)", transient=True
                )
            client.cancel(job.slurm_job_id)
        except SlurmError as error:
            attempts = job.cancel_attempts + 1
            delay = min(CANCEL_RETRY_MAX_SECONDS, CANCEL_RETRY_BASE_SECONDS * 2 ** (attempts - 1))
            ComputeJob.objects.filter(_due(), pk=job_id).update(
                cancel_attempts=attempts,
                next_cancel_at=now + dt.timedelta(seconds=delay),
                last_error=str(error)[:2000],
                updated_at=now,
            )
            logger.warning("cancel of job %s not sent (attempt %s): %s", job_id, attempts, error)
            job.refresh_from_db()
            return job
        ComputeJob.objects.filter(pk=job_id, cancel_sent_at__isnull=True).update(
            cancel_sent_at=now, next_cancel_at=None, updated_at=now
        )
        try:
            info = client.get_job(job.slurm_job_id)
        except SlurmError as error:  # the follower brings the final state
            logger.info("job %s cancelled; its state follows: %s", job_id, error)
            info = None
        job.refresh_from_db()
        if info is not None:
            job_apply_slurm_info(job=job, info=info)
            job.refresh_from_db()
        return job
    finally:
        lease_release(name=name, holder=holder)


def jobs_cancel_due(
    *,
    client: SlurmClient | None = None,
    now: dt.datetime | None = None,
    cluster: Cluster | None = None,
) -> int:
    """Send every cancel that is due (never sent, or its retry time has come); the safety net
    for a lost task or a dead worker. Only the jobs of ``cluster`` when one is given.
    Returns how many were sent."""
    now = now or timezone.now()
    jobs = jobs_of_cluster(cluster) if cluster is not None else ComputeJob.objects.all()
    due = jobs.filter(_due()).filter(Q(next_cancel_at__isnull=True) | Q(next_cancel_at__lte=now))
    sent = 0
    for job_id in due.values_list("pk", flat=True):
        job = job_cancel_send(job_id=job_id, client=client)
        sent += job is not None and job.cancel_sent_at is not None
    return sent
