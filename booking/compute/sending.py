"""Sending a stored job to Slurm exactly once.

A row claim with a lease keeps two workers apart, and before any second attempt the job is
looked for in Slurm by the marker in its name and comment, so a job Slurm accepted while our
worker died is adopted, not submitted again. Slurm refusals end the job as failed with Slurm's
reason; the quota hold is released because an ended job counts only its real GPU-hours.
"""

from __future__ import annotations

import datetime as dt
import logging
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal
from uuid import uuid4

from django.conf import settings
from django.db import transaction
from django.db.models import BigIntegerField, Case, F, Q, Value, When
from django.utils import timezone

from booking.compute.following import release_reissued_id
from booking.compute.models import ComputeJob, JobState
from booking.compute.reasons import job_reason_stored
from booking.compute.slurm import (
    cluster_membership,
    configured_cluster_client,
    job_marker,
    job_spec,
    jobs_of_cluster,
)
from booking.compute.slurm_hooks import enqueue_slurm_sync
from booking.errors import ParkError
from booking.tenancy.models import Membership
from resources.clusters import Cluster, default_cluster
from resources.slurm import (
    JobInfo,
    SlurmClient,
    SlurmError,
)
from resources.slurm_park import JOB_NAME_PREFIX

# How long one worker owns a queued job while sending it; a dead worker's claim expires after it.
SEND_LEASE = dt.timedelta(seconds=120)


# Backoff between submit attempts while Slurm is unreachable: 5 s, 10 s, ... at most 5 minutes.
RETRY_BASE_SECONDS = 5

logger = logging.getLogger(__name__)


RETRY_MAX_SECONDS = 300


# ESLURM_RESERVATION_INVALID: the job names a reservation slurmctld does not hold.
RESERVATION_INVALID = 2053


def accounting_after() -> dt.timedelta:
    """From when a job is looked for in accounting too: slurmctld forgets finished jobs after
    MinJobAge (the SLURM_MIN_JOB_AGE setting, Slurm's default 300 s); half of it leaves room
    for a job that finished just before the look-up."""
    return dt.timedelta(seconds=int(getattr(settings, "SLURM_MIN_JOB_AGE", 300) or 300) / 2)


def job_find_in_slurm(
    *, job: ComputeJob, client: SlurmClient, table: list[JobInfo] | None = None
) -> int | None:
    """Slurm's id for our job if Slurm already has it (by name and marker), else None.

    Looks in slurmctld's job table (``table`` when the caller read it already) and, for a job
    older than slurmctld keeps finished jobs, in slurmdbd's accounting when it runs."""
    marker = job_marker(job)
    if table is None:
        table = client.list_jobs(name_prefix=job.slurm_name) or []
    for info in table:
        if info.name == job.slurm_name and info.comment == marker:
            return info.job_id
    if timezone.now() - job.created_at < accounting_after():
        return None
    try:
        for info in client.accounting_jobs(name=job.slurm_name):
            if info.comment == marker:
                return info.job_id
    except SlurmError as error:
        if error.transient:
            raise
        # No slurmdbd (the endpoint does not exist): slurmctld's table was the whole truth.
    return None


def job_send(
    *,
    job_id: int,
    client: SlurmClient | None = None,
    now: dt.datetime | None = None,
    table: list[JobInfo] | None = None,
) -> ComputeJob | None:
    """Submit one queued job to Slurm, at most once.

    In: the job's id. Out: the job after the attempt (``pending`` with its Slurm id, still
    ``queued`` with ``next_attempt_at`` after a transient failure, or ``failed`` with Slurm's
    reason after a refusal), or None when the job is not due or another worker holds it.
    ``table`` is slurmctld's job table read after the job's previous attempt, if the caller has
    it (a sweep reads it once for all its retries).
    """
    now = now or timezone.now()
    claimed = (
        ComputeJob.objects.filter(pk=job_id, state=JobState.QUEUED)
        .filter(Q(next_attempt_at__isnull=True) | Q(next_attempt_at__lte=now))
        .update(
            submit_attempts=F("submit_attempts") + 1,
            next_attempt_at=now + SEND_LEASE,
            updated_at=now,
        )
    )
    if not claimed:
        return None
    job = ComputeJob.objects.select_related(
        "tenant", "user", "pool", "cluster", "booking__resource__gpu"
    ).get(pk=job_id)
    client = client or configured_cluster_client(job.cluster)
    if client is None:
        unconfigured = SlurmError(
            "Slurm is not configured (SLURM_REST_URL is unset)", transient=True
        )
        return _retry_later(job, error=unconfigured, now=now)
    try:
        membership = cluster_membership(user=job.user, tenant=job.tenant)
        slurm_id = None
        if job.submit_attempts > 1:
            # An earlier attempt may have reached Slurm before its worker died or lost the reply.
            slurm_id = job_find_in_slurm(job=job, client=client, table=table)
        if slurm_id is None:
            slurm_id = client.submit(
                job_spec(job, now=now),
                user=membership.cluster_username,
                reconcile=lambda: job_find_in_slurm(job=job, client=client),
            )
    except ParkError as error:
        # A rule the job no longer passes (e.g. its user left the tenant): the rule's words.
        return _end_unsent(job, code=error.code, params={}, reason=error.message, error=error.code)
    except SlurmError as error:
        if error.transient:
            return _retry_later(job, error=error, now=now)
        if error.error_code == RESERVATION_INVALID and job.booking_id is not None:
            # The booking's reservation is not in Slurm yet: reconcile, then try again.
            enqueue_slurm_sync("job in a booking without its reservation")
            return _retry_later(job, error=error, now=now)
        params = {"message": error.message, "error_code": error.error_code}
        return _end_unsent(
            job,
            code="slurm_refused",
            params=params,
            reason=job_reason_stored("slurm_refused", params),
            error=str(error),
        )
    return _sent(job, slurm_id=slurm_id, client=client, now=now)


def _sent(job: ComputeJob, *, slurm_id: int, client: SlurmClient, now: dt.datetime) -> ComputeJob:
    with transaction.atomic():
        # Slurm gave this id to our job now, so a row still holding it names a job Slurm lost
        # (a controller crash reissues ids): that row lets go of the id first.
        for other in (
            ComputeJob.objects.select_for_update()
            .filter(slurm_job_id=slurm_id, cluster_id=job.cluster_id)
            .exclude(pk=job.pk)
        ):
            release_reissued_id(other, now=now)
        updated = ComputeJob.objects.filter(pk=job.pk, state=JobState.QUEUED).update(
            state=JobState.PENDING,
            slurm_job_id=slurm_id,
            submitted_at=now,
            next_attempt_at=None,
            last_error="",
            updated_at=now,
        )
    if updated:
        logger.info("job %s is Slurm job %s", job.pk, slurm_id)
        job.state, job.slurm_job_id, job.submitted_at = JobState.PENDING, slurm_id, now
        job.next_attempt_at, job.last_error = None, ""
        return job
    # Cancelled while we were sending: keep the id and cancel it in Slurm too.
    ComputeJob.objects.filter(pk=job.pk, slurm_job_id__isnull=True).update(slurm_job_id=slurm_id)
    try:
        client.cancel(slurm_id)
    except SlurmError as error:
        logger.warning("job %s cancelled here but not in Slurm yet: %s", job.pk, error)
    job.refresh_from_db()
    return job


def _retry_later(job: ComputeJob, *, error: SlurmError, now: dt.datetime) -> ComputeJob:
    delay = min(RETRY_MAX_SECONDS, RETRY_BASE_SECONDS * 2 ** max(0, job.submit_attempts - 1))
    ComputeJob.objects.filter(pk=job.pk, state=JobState.QUEUED).update(
        next_attempt_at=now + dt.timedelta(seconds=delay),
        last_error=str(error)[:2000],
        updated_at=now,
    )
    logger.warning("job %s not sent (attempt %s): %s", job.pk, job.submit_attempts, error)
    job.refresh_from_db()
    return job


def _end_unsent(job: ComputeJob, *, code: str, params: dict, reason: str, error: str) -> ComputeJob:
    now = timezone.now()
    ComputeJob.objects.filter(pk=job.pk, state=JobState.QUEUED).update(
        state=JobState.FAILED,
        reason=reason[:400],
        reason_code=code,
        reason_params=params,
        last_error=error[:2000],
        next_attempt_at=None,
        ended_at=now,
        gpu_hours=Decimal(0),
        updated_at=now,
    )
    job.refresh_from_db()
    return job


def jobs_send_due(
    *,
    client: SlurmClient | None = None,
    now: dt.datetime | None = None,
    limit: int = 200,
    cluster: Cluster | None = None,
) -> int:
    """Send queued jobs of ``cluster`` (default: the default cluster) whose turn has come
    (first attempts whose task was lost, retries after Slurm was unreachable, attempts whose
    worker died), at most ``limit``, in batches of ``jobs_send_batch`` (one claim, sends from
    a few threads, one UPDATE recording the ids). Returns how many were sent."""
    now = now or timezone.now()
    cluster = cluster or default_cluster()
    client = client or configured_cluster_client(cluster)
    if client is None:
        return 0
    sent = tried = 0
    while tried < limit:
        batch = jobs_send_batch(
            cluster=cluster, client=client, now=now, limit=min(SEND_BATCH, limit - tried)
        )
        if not batch:
            break  # nothing due any more (a claimed row's lease runs past ``now``)
        tried += len(batch)
        sent += sum(job.state != JobState.QUEUED for job in batch)
        if any(job.state == JobState.QUEUED and job.last_error for job in batch):
            # The cluster did not take them (unreachable): the rest wait for the next pass
            # rather than each waiting out the client's retries.
            break
    return sent


# One batch claim takes at most this many due jobs; they are sent from a few threads over the
# cluster client's one kept-alive connection pool (SLURM_SEND_THREADS, default 4).
SEND_BATCH = 50


def _send_threads() -> int:
    return max(1, int(getattr(settings, "SLURM_SEND_THREADS", 4) or 1))


def jobs_send_batch(
    *,
    cluster: Cluster | None = None,
    first_id: int | None = None,
    client: SlurmClient | None = None,
    now: dt.datetime | None = None,
    limit: int = SEND_BATCH,
) -> list[ComputeJob]:
    """Send up to ``limit`` due queued jobs of ``cluster`` (default: the default cluster),
    ``first_id`` first, with ``job_send``'s exactly-once rules and fewer round trips.

    1. One conditional UPDATE claims the batch: each due row gets one more attempt, a lease
       (``next_attempt_at`` = now + SEND_LEASE) and this batch's ``claim_token``; a row another
       worker claimed meanwhile is no longer due and is skipped. A worker that dies holding the
       claim leaves rows whose lease lapses; the next attempt looks for them in Slurm first.
    2. The jobs are submitted from SLURM_SEND_THREADS threads over one client (no database
       work in the threads); retries look for an earlier attempt in one job-table read.
    3. The Slurm ids are recorded in one UPDATE (CASE per row) for the rows still queued; a
       row cancelled meanwhile keeps its id and is cancelled in Slurm, as in ``job_send``.
       Failures take ``job_send``'s per-job paths (retry later, or end with Slurm's reason).

    Returns the claimed jobs after their attempt (empty when none was due or claimable).
    """
    now = now or timezone.now()
    cluster = cluster or default_cluster()
    due_filter = Q(next_attempt_at__isnull=True) | Q(next_attempt_at__lte=now)
    order = ["created_at", "pk"]
    if first_id is not None:
        order.insert(0, Case(When(pk=first_id, then=Value(0)), default=Value(1)))
    due = (
        jobs_of_cluster(cluster)
        .filter(due_filter, state=JobState.QUEUED)
        .order_by(*order)
        .values("pk")[:limit]
    )
    token = uuid4().hex
    claimed = (
        ComputeJob.objects.filter(pk__in=due)
        .filter(due_filter, state=JobState.QUEUED)
        .update(
            submit_attempts=F("submit_attempts") + 1,
            next_attempt_at=now + SEND_LEASE,
            claim_token=token,
            updated_at=now,
        )
    )
    if not claimed:
        return []
    jobs = list(
        ComputeJob.objects.filter(claim_token=token, state=JobState.QUEUED)
        .select_related("tenant", "pool", "cluster", "booking__resource__gpu")
        .order_by("created_at", "pk")
    )
    client = client or configured_cluster_client(cluster)
    if client is None:
        unconfigured = SlurmError(
            "Slurm is not configured (SLURM_REST_URL is unset)", transient=True
        )
        return [_retry_later(job, error=unconfigured, now=now) for job in jobs]
    names = {
        (m.user_id, m.tenant_id): m.cluster_username
        for m in Membership.objects.filter(
            tenant__active=True,
            user_id__in={j.user_id for j in jobs},
            tenant_id__in={j.tenant_id for j in jobs},
        ).only("user_id", "tenant_id", "cluster_username")
    }
    done: list[ComputeJob] = []
    ready: list[tuple[ComputeJob, object, str]] = []
    for job in jobs:
        key = (job.user_id, job.tenant_id)
        try:
            if not names.get(key):
                cluster_membership(user=job.user, tenant=job.tenant)  # raises with the rule
            ready.append((job, job_spec(job, now=now), names[key]))
        except ParkError as error:
            done.append(
                _end_unsent(job, code=error.code, params={}, reason=error.message, error=error.code)
            )
    table = None
    if any(job.submit_attempts > 1 for job, _, _ in ready):
        try:
            table = client.list_jobs(name_prefix=JOB_NAME_PREFIX) or []
        except SlurmError as error:
            return done + [_retry_later(job, error=error, now=now) for job, _, _ in ready]

    def send(item: tuple[ComputeJob, object, str]) -> int | SlurmError:
        job, spec, user = item
        try:
            if job.submit_attempts > 1:
                found = job_find_in_slurm(job=job, client=client, table=table)
                if found is not None:
                    return found
            return client.submit(
                spec, user=user, reconcile=lambda: job_find_in_slurm(job=job, client=client)
            )
        except SlurmError as error:
            return error

    threads = min(_send_threads(), len(ready))
    if threads > 1:
        with ThreadPoolExecutor(max_workers=threads) as pool:
            answers = list(pool.map(send, ready))
    else:
        answers = [send(item) for item in ready]
    sent: dict[int, int] = {}
    by_pk = {}
    for (job, _spec, _user), answer in zip(ready, answers, strict=True):
        if isinstance(answer, int):
            sent[job.pk] = answer
            by_pk[job.pk] = job
        elif answer.transient:
            done.append(_retry_later(job, error=answer, now=now))
        elif answer.error_code == RESERVATION_INVALID and job.booking_id is not None:
            enqueue_slurm_sync("job in a booking without its reservation")
            done.append(_retry_later(job, error=answer, now=now))
        else:
            params = {"message": answer.message, "error_code": answer.error_code}
            done.append(
                _end_unsent(
                    job,
                    code="slurm_refused",
                    params=params,
                    reason=job_reason_stored("slurm_refused", params),
                    error=str(answer),
                )
            )
    if sent:
        done.extend(_record_sent(by_pk, sent, cluster_id=jobs[0].cluster_id, client=client))
    return done


def _record_sent(
    jobs: dict[int, ComputeJob],
    sent: dict[int, int],
    *,
    cluster_id: int | None,
    client: SlurmClient,
) -> list[ComputeJob]:
    """Record Slurm's ids of a batch in one UPDATE; see ``_sent`` for the rules."""
    now = timezone.now()  # submitted_at: when Slurm's answer was recorded, not the claim
    with transaction.atomic():
        for other in (
            ComputeJob.objects.select_for_update()
            .filter(slurm_job_id__in=list(sent.values()), cluster_id=cluster_id)
            .exclude(pk__in=list(sent))
        ):
            release_reissued_id(other, now=now)
        ComputeJob.objects.filter(pk__in=list(sent), state=JobState.QUEUED).update(
            state=JobState.PENDING,
            slurm_job_id=Case(
                *(When(pk=pk, then=Value(slurm_id)) for pk, slurm_id in sent.items()),
                output_field=BigIntegerField(),
            ),
            submitted_at=now,
            next_attempt_at=None,
            last_error="",
            claim_token="",
            updated_at=now,
        )
        # Rows the UPDATE did not take were cancelled while they were being sent.
        missed = list(
            ComputeJob.objects.filter(pk__in=list(sent))
            .exclude(state=JobState.PENDING)
            .values_list("pk", flat=True)
        )
    out = []
    for pk, slurm_id in sent.items():
        job = jobs[pk]
        if pk in missed:
            ComputeJob.objects.filter(pk=pk, slurm_job_id__isnull=True).update(
                slurm_job_id=slurm_id
            )
            try:
                client.cancel(slurm_id)
            except SlurmError as error:
                logger.warning("job %s cancelled here but not in Slurm yet: %s", pk, error)
            job.refresh_from_db()
        else:
            job.state, job.slurm_job_id, job.submitted_at = JobState.PENDING, slurm_id, now
            job.next_attempt_at, job.last_error, job.claim_token = None, "", ""
        out.append(job)
    logger.info("%s jobs sent to Slurm in one batch", len(sent) - len(missed))
    return out
