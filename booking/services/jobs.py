"""Compute jobs on Slurm: submit (checked, stored, sent once), follow, charge, cancel.

The flow (issue 6):

1. ``job_submit`` checks the request (membership and cluster identity, booking window, partition
   limits, GPU-hour quota), stores the job as ``queued`` and starts ``job_submit_task`` on commit.
2. ``job_send`` (run by that task, and by the periodic sweep for jobs whose earlier attempt
   failed) submits the job to slurmrestd exactly once: a row claim with a lease keeps two workers
   apart, and before any second attempt the job is looked for in Slurm by the marker in its name
   and comment, so a job Slurm accepted while our worker died is adopted, not submitted again.
3. ``jobs_follow`` reads the live jobs from Slurm and records state, real start/end, exit code
   and GPU-hours; ended jobs are charged to the tenant's GPU quota through ``gpu_hours`` (see
   ``booking.selectors.used_hours``: live jobs hold GPUs × time limit, ended ones count real use).
4. ``job_cancel`` cancels in Slurm (or before submission, here).

Slurm refusals end the job as failed with Slurm's reason; the quota hold is released because an
ended job counts only its real GPU-hours (0 for a job that never ran).
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
import time
import weakref
from dataclasses import dataclass, field
from decimal import Decimal

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone
from django.utils.translation import gettext as _

from booking.errors import Conflict, NotFound, ParkError
from booking.models import (
    LIVE_JOB_STATES,
    Booking,
    BookingStatus,
    ComputeJob,
    JobState,
    Membership,
    Quota,
    Tenant,
)
from booking.selectors import period_bounds, used_hours
from booking.slurm_hooks import enqueue_slurm_sync
from resources.models import ResourceKind, ResourcePool
from resources.slurm import (
    JobInfo,
    JobSpec,
    NodeInfo,
    PartitionInfo,
    SlurmClient,
    SlurmError,
    client_from_settings,
)
from resources.slurm import JobState as SlurmState
from resources.slurm_park import account_name, reservation_name

logger = logging.getLogger(__name__)

# How long one worker owns a queued job while sending it; a dead worker's claim expires after it.
SEND_LEASE = dt.timedelta(seconds=120)
# Backoff between submit attempts while Slurm is unreachable: 5 s, 10 s, ... at most 5 minutes.
RETRY_BASE_SECONDS = 5
RETRY_MAX_SECONDS = 300
# Up to this many live jobs are read one by one; above it one job-table read is cheaper.
FOLLOW_ONE_BY_ONE = 40
# A job Slurm no longer knows (and accounting cannot resolve) is ended after this grace.
VANISHED_GRACE = dt.timedelta(minutes=2)


def accounting_after() -> dt.timedelta:
    """From when a job is looked for in accounting too: slurmctld forgets finished jobs after
    MinJobAge (the SLURM_MIN_JOB_AGE setting, Slurm's default 300 s); half of it leaves room
    for a job that finished just before the look-up."""
    return dt.timedelta(seconds=int(getattr(settings, "SLURM_MIN_JOB_AGE", 300) or 300) / 2)


_HOURS = Decimal("0.0001")

_TO_OURS = {
    SlurmState.PENDING: JobState.PENDING,
    SlurmState.CONFIGURING: JobState.PENDING,
    SlurmState.REQUEUED: JobState.PENDING,
    SlurmState.RUNNING: JobState.RUNNING,
    SlurmState.COMPLETING: JobState.RUNNING,
    SlurmState.SUSPENDED: JobState.RUNNING,
    SlurmState.RESIZING: JobState.RUNNING,
    SlurmState.COMPLETED: JobState.COMPLETED,
    SlurmState.CANCELLED: JobState.CANCELLED,
    SlurmState.TIMEOUT: JobState.TIMEOUT,
    SlurmState.DEADLINE: JobState.TIMEOUT,
    SlurmState.FAILED: JobState.FAILED,
    SlurmState.NODE_FAIL: JobState.FAILED,
    SlurmState.BOOT_FAIL: JobState.FAILED,
    SlurmState.OUT_OF_MEMORY: JobState.FAILED,
    SlurmState.PREEMPTED: JobState.FAILED,
}


# --------------------------------------------------------------------------------------------
# The Slurm client and a short-lived snapshot of the cluster's partitions
# --------------------------------------------------------------------------------------------

_client_lock = threading.Lock()
_client: tuple[tuple, SlurmClient] | None = None


def slurm_client() -> SlurmClient:
    """The process's client for the configured cluster (rebuilt when the settings change)."""
    global _client
    key = tuple(
        getattr(settings, name, None)
        for name in (
            "SLURM_REST_URL",
            "SLURM_API_VERSION",
            "SLURM_USER",
            "SLURM_JWT_KEY_FILE",
            "SLURM_TOKEN",
            "SLURM_CLUSTER",
            "SLURM_TIMEOUT",
        )
    )
    with _client_lock:
        if _client is None or _client[0] != key:
            _client = (key, client_from_settings())
        return _client[1]


@dataclass
class _Snapshot:
    at: float = 0.0
    partitions: dict[str, PartitionInfo] = field(default_factory=dict)
    nodes: list[NodeInfo] = field(default_factory=list)


_snapshots: weakref.WeakKeyDictionary[SlurmClient, _Snapshot] = weakref.WeakKeyDictionary()
_SNAPSHOT_SECONDS = 60.0


def _cluster_snapshot(client: SlurmClient) -> _Snapshot | None:
    """Partitions and nodes, at most a minute old; None when Slurm cannot be asked now (the
    request is then checked by Slurm itself at submission)."""
    snapshot = _snapshots.get(client)
    if snapshot is not None and time.monotonic() - snapshot.at < _SNAPSHOT_SECONDS:
        return snapshot
    try:
        parts = {p.name: p for p in client.partitions()}
        nodes = client.nodes()
    except SlurmError as error:
        logger.info("partition limits not checked: %s", error)
        return None
    snapshot = _Snapshot(at=time.monotonic(), partitions=parts, nodes=nodes)
    _snapshots[client] = snapshot
    return snapshot


# --------------------------------------------------------------------------------------------
# Submission
# --------------------------------------------------------------------------------------------


def job_submit(
    *,
    user,
    tenant: Tenant,
    name: str,
    script: str,
    time_limit_minutes: int,
    gpus: int = 0,
    cpus: int = 1,
    memory_mb: int = 1024,
    partition: str = "",
    pool: ResourcePool | None = None,
    booking: Booking | None = None,
    client: SlurmClient | None = None,
    now: dt.datetime | None = None,
) -> ComputeJob:
    """Check a job request, store it as ``queued`` and hand it to Slurm once the transaction
    commits.

    In: the acting ``user`` and ``tenant``, the batch ``script`` and its resources. The partition
    comes from ``booking`` (its GPU node), else from ``pool`` (its members' partition), else from
    ``partition``. Out: the stored ``ComputeJob``.

    Raises ``ParkError`` naming the field and rule: ``not_a_member``, ``no_cluster_identity``,
    ``partition_required``, ``unknown_partition``, ``time_limit_too_long``, ``too_many_gpus``,
    ``booking_*`` (not confirmed, not a GPU node, ended, too short, too few GPUs),
    ``quota_exceeded``. Nothing is stored on refusal.
    """
    now = now or timezone.now()
    name = (name or "").strip()
    if not name:
        raise ParkError("name_required", _("name: give the job a name."), field="name")
    if not (script or "").startswith("#!"):
        raise ParkError(
            "script_needs_shebang",
            _("script: a batch script starts with #! (e.g. #!/bin/bash)."),
            field="script",
        )
    membership = _membership(user=user, tenant=tenant)
    gpu_type, nodelist = None, None
    if booking is not None:
        partition, gpu_type, nodelist = _check_booking(
            booking=booking,
            tenant=tenant,
            gpus=gpus,
            time_limit_minutes=time_limit_minutes,
            now=now,
        )
    elif pool is not None:
        partition, gpu_type = _pool_target(pool)
    partition = (partition or "").strip()
    if not partition:
        raise ParkError(
            "partition_required",
            _("partition: name a partition, a GPU pool or a booking to run in."),
            field="partition",
        )
    _check_partition(
        # No cluster configured on this server: ImproperlyConfigured (the API answers 503).
        client=client or slurm_client(),
        partition=partition,
        gpu_type=gpu_type,
        gpus=gpus,
        cpus=cpus,
        time_limit_minutes=time_limit_minutes,
    )
    with transaction.atomic():
        # One submission per tenant at a time: the quota check and the insert see the same use.
        Tenant.objects.select_for_update().filter(pk=tenant.pk).first()
        if booking is None:
            _check_quota(tenant=tenant, gpus=gpus, time_limit_minutes=time_limit_minutes, now=now)
        job = ComputeJob(
            tenant=tenant,
            user=user,
            booking=booking,
            pool=pool,
            name=name,
            script=script,
            partition=partition,
            gpus=gpus,
            cpus=cpus,
            memory_mb=memory_mb,
            time_limit_minutes=time_limit_minutes,
            state=JobState.QUEUED,
        )
        # Field rules here; the check constraints are the database's (validating them in Python
        # would cost a query each on the hot path), and so are the foreign keys: the related
        # rows were loaded and checked above.
        job.full_clean(
            exclude=["tenant", "user", "booking", "pool"],
            validate_unique=False,
            validate_constraints=False,
        )
        job.save()
        job_id = job.pk
        transaction.on_commit(lambda: _start_send_task(job_id))
    logger.info("job %s stored for %s (%s)", job.pk, tenant.slug, membership.cluster_username)
    return job


def _start_send_task(job_id: int) -> None:
    from booking.job_tasks import job_submit_task

    try:
        job_submit_task(job_id)
    except Exception as error:
        # The job is stored; the queue is unreachable. The follower's sweep sends it later
        # (jobs_send_due takes every queued job whose turn has come).
        logger.warning("job %s stored; its send task could not be queued: %s", job_id, error)


def _membership(*, user, tenant: Tenant) -> Membership:
    membership = Membership.objects.filter(user=user, tenant=tenant, tenant__active=True).first()
    if membership is None:
        raise ParkError(
            "not_a_member", _("tenant: you are not a member of this tenant."), field="tenant"
        )
    if not membership.cluster_username:
        raise ParkError(
            "no_cluster_identity",
            _(
                "user: you have no identity on the compute cluster yet; ask your tenant manager "
                "or the park operator to set your cluster user name."
            ),
            field="user",
        )
    return membership


def _check_booking(
    *, booking: Booking, tenant: Tenant, gpus: int, time_limit_minutes: int, now: dt.datetime
) -> tuple[str, str | None, str]:
    """The booking a job runs in: confirmed, this tenant's, a GPU node, long and wide enough."""
    if booking.tenant_id != tenant.pk:
        raise NotFound(_("booking"), field="booking")
    if booking.status != BookingStatus.CONFIRMED:
        raise ParkError(
            "booking_not_confirmed",
            _("booking: only a confirmed booking can run jobs."),
            field="booking",
        )
    resource = booking.resource
    node = getattr(resource, "gpu", None) if resource is not None else None
    if node is None or resource.kind != ResourceKind.GPU_NODE:
        raise ParkError(
            "booking_not_gpu", _("booking: the booking is not on a GPU node."), field="booking"
        )
    if booking.end <= now:
        raise ParkError("booking_ended", _("booking: the booking has ended."), field="booking")
    begin = max(now, booking.start)
    if begin + dt.timedelta(minutes=time_limit_minutes) > booking.end:
        left = int((booking.end - begin).total_seconds() // 60)
        raise ParkError(
            "booking_too_short",
            _(
                "time_limit_minutes: the job would run past the booking's end; at most "
                "%(left)s minutes fit."
            )
            % {"left": left},
            field="time_limit_minutes",
        )
    if gpus > booking.units:
        raise ParkError(
            "booking_too_few_gpus",
            _("gpus: the booking holds %(units)s GPUs.") % {"units": booking.units},
            field="gpus",
        )
    return node.slurm_partition, node.gpu_model.lower() or None, node.slurm_node


def _pool_target(pool: ResourcePool) -> tuple[str, str | None]:
    """The partition and GPU model shared by a pool's GPU nodes."""
    nodes = [
        r.gpu
        for r in pool.members.filter(kind=ResourceKind.GPU_NODE, active=True).select_related("gpu")
        if hasattr(r, "gpu")
    ]
    if pool.kind != ResourceKind.GPU_NODE or not nodes:
        raise ParkError("pool_not_gpu", _("pool: the pool has no GPU nodes."), field="pool")
    partitions = {n.slurm_partition for n in nodes}
    if len(partitions) != 1:
        raise ParkError(
            "pool_spans_partitions",
            _("pool: its nodes are in several partitions; name the partition."),
            field="pool",
        )
    models = {n.gpu_model.lower() for n in nodes}
    return partitions.pop(), models.pop() if len(models) == 1 else None


def _configured_client() -> SlurmClient | None:
    """The client, or None when no cluster is configured (SLURM_REST_URL unset): background
    work then leaves jobs where they are instead of failing."""
    try:
        return slurm_client()
    except ImproperlyConfigured:
        return None


def _check_partition(
    *,
    client: SlurmClient | None,
    partition: str,
    gpu_type: str | None,
    gpus: int,
    cpus: int,
    time_limit_minutes: int,
) -> None:
    snapshot = _cluster_snapshot(client) if client is not None else None
    if snapshot is None:
        return
    part = snapshot.partitions.get(partition)
    if part is None:
        raise ParkError(
            "unknown_partition",
            _("partition: the cluster has no partition %(name)s.") % {"name": partition},
            field="partition",
        )
    if part.max_time_minutes is not None and time_limit_minutes > part.max_time_minutes:
        raise ParkError(
            "time_limit_too_long",
            _("time_limit_minutes: partition %(name)s allows at most %(max)s minutes.")
            % {"name": partition, "max": part.max_time_minutes},
            field="time_limit_minutes",
        )
    nodes = [n for n in snapshot.nodes if partition in n.partitions]
    if gpus:
        fitting = [n.gpu_count for n in nodes if gpu_type in (None, n.gpu_type)]
        most = max(fitting, default=0)
        if gpus > most:
            raise ParkError(
                "too_many_gpus",
                _("gpus: a node in partition %(name)s has at most %(max)s GPUs%(model)s.")
                % {
                    "name": partition,
                    "max": most,
                    "model": f" ({gpu_type})" if gpu_type else "",
                },
                field="gpus",
            )
    most_cpus = max((n.cpus for n in nodes), default=0)
    if nodes and cpus > most_cpus:
        raise ParkError(
            "too_many_cpus",
            _("cpus: a node in partition %(name)s has at most %(max)s CPUs.")
            % {"name": partition, "max": most_cpus},
            field="cpus",
        )


def _check_quota(*, tenant: Tenant, gpus: int, time_limit_minutes: int, now: dt.datetime) -> None:
    """GPUs × time limit must fit in what is left of every GPU quota period containing now."""
    if not gpus:
        return
    wanted = Decimal(gpus) * Decimal(time_limit_minutes) / Decimal(60)
    for quota in Quota.objects.filter(tenant=tenant, resource_class=ResourceKind.GPU_NODE):
        start, end = period_bounds(period=quota.period, at=now)
        used = used_hours(tenant=tenant, resource_class=ResourceKind.GPU_NODE, start=start, end=end)
        if used + wanted > quota.hours:
            raise ParkError(
                "quota_exceeded",
                _(
                    "time_limit_minutes: %(tenant)s has %(left)s of %(quota)s GPU-hours left in "
                    "the %(period)s; this job may use %(wanted)s (GPUs × time limit)."
                )
                % {
                    "tenant": tenant.name,
                    "left": max(Decimal(0), quota.hours - used).quantize(Decimal("0.01")),
                    "quota": quota.hours,
                    "period": quota.get_period_display().lower(),
                    "wanted": wanted.quantize(Decimal("0.01")),
                },
                field="time_limit_minutes",
            )


# --------------------------------------------------------------------------------------------
# Sending to Slurm, exactly once
# --------------------------------------------------------------------------------------------


def job_marker(job: ComputeJob) -> str:
    """What identifies our job in Slurm's comment: the row id plus its creation instant, so a
    recreated database (ids from 1 again) never mistakes an old Slurm job for its own."""
    return f"park-booking:{job.pk}:{int(job.created_at.timestamp() * 1_000_000)}"


def job_output_path(job: ComputeJob) -> str | None:
    """Where the job's standard output goes (known once Slurm gave it an id)."""
    if job.slurm_job_id is None:
        return None
    return f"{_workdir()}/{job.slurm_name}-{job.slurm_job_id}.out"


def _workdir() -> str:
    return str(getattr(settings, "SLURM_JOB_WORKDIR", "") or "/tmp").rstrip("/")


def job_spec(job: ComputeJob, *, now: dt.datetime | None = None) -> JobSpec:
    """The Slurm request for a stored job."""
    booking = job.booking
    gpu_type, nodelist, begin, reservation = None, None, None, None
    if booking is not None and booking.resource is not None:
        node = getattr(booking.resource, "gpu", None)
        if node is not None:
            gpu_type, nodelist = node.gpu_model.lower() or None, node.slurm_node
            if getattr(settings, "SLURM_AGENT_URL", None):
                # Reservations are kept from bookings (manage.py slurm_sync): run in the booking's.
                reservation = reservation_name(booking.pk)
        if booking.start and booking.start > (now or timezone.now()):
            begin = booking.start
    elif job.pool is not None:
        _, gpu_type = _pool_target(job.pool)
    return JobSpec(
        script=job.script,
        name=job.slurm_name,
        comment=job_marker(job),
        account=account_name(job.tenant.slug),
        partition=job.partition,
        gpus=job.gpus,
        gpu_type=gpu_type,
        cpus=job.cpus,
        memory_mb=job.memory_mb,
        time_limit_minutes=job.time_limit_minutes,
        working_directory=_workdir(),
        environment={
            "PATH": "/usr/local/bin:/usr/bin:/bin",
            "PARK_JOB_ID": str(job.pk),
            "PARK_TENANT": job.tenant.slug,
        },
        begin_time=begin,
        nodelist=nodelist,
        reservation=reservation,
        standard_output=f"{_workdir()}/{job.slurm_name}-%j.out",
    )


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
    job = ComputeJob.objects.select_related("tenant", "user", "pool", "booking__resource__gpu").get(
        pk=job_id
    )
    client = client or _configured_client()
    if client is None:
        unconfigured = SlurmError(
            "Slurm is not configured (SLURM_REST_URL is unset)", transient=True
        )
        return _retry_later(job, error=unconfigured, now=now)
    try:
        membership = _membership(user=job.user, tenant=job.tenant)
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
        return _end_unsent(job, reason=error.message, error=error.code)
    except SlurmError as error:
        if error.transient:
            return _retry_later(job, error=error, now=now)
        if error.error_code == RESERVATION_INVALID and job.booking_id is not None:
            # The booking's reservation is not in Slurm yet: reconcile, then try again.
            enqueue_slurm_sync("job in a booking without its reservation")
            return _retry_later(job, error=error, now=now)
        reason = _("Slurm refused the job: %(message)s") % {"message": error.message}
        if error.error_code is not None:
            reason += f" (Slurm error {error.error_code})"
        return _end_unsent(job, reason=reason, error=str(error))
    return _sent(job, slurm_id=slurm_id, client=client, now=now)


# ESLURM_RESERVATION_INVALID: the job names a reservation slurmctld does not hold.
RESERVATION_INVALID = 2053


def _sent(job: ComputeJob, *, slurm_id: int, client: SlurmClient, now: dt.datetime) -> ComputeJob:
    with transaction.atomic():
        # Slurm gave this id to our job now, so a row still holding it names a job Slurm lost
        # (a controller crash reissues ids): that row lets go of the id first.
        for other in (
            ComputeJob.objects.select_for_update().filter(slurm_job_id=slurm_id).exclude(pk=job.pk)
        ):
            _release_reissued_id(other, now=now)
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


def _release_reissued_id(job: ComputeJob, *, now: dt.datetime, lost: bool = False) -> None:
    """``job``'s Slurm id now names another job (or, ``lost``, nothing at all). Never adopt
    another job's record: a job that had not started is queued to be sent again; a live one
    that had started ends with the reason; an ended one keeps its state."""
    if lost:
        note = _("Slurm lost job %(id)s (never started); it was sent again.")
    else:
        note = _("Slurm job %(id)s was lost by Slurm and its id given to another job.")
    note = note % {"id": job.slurm_job_id}
    values: dict = {"slurm_job_id": None, "last_error": note[:2000], "updated_at": now}
    if job.state == JobState.PENDING and job.started_at is None:
        values.update(state=JobState.QUEUED, next_attempt_at=None, submitted_at=None)
    elif job.state in (JobState.PENDING, JobState.RUNNING):
        values.update(state=JobState.FAILED, ended_at=now, reason=note[:400])
    ComputeJob.objects.filter(pk=job.pk).update(**values)
    logger.warning("job %s: %s", job.pk, note)


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


def _end_unsent(job: ComputeJob, *, reason: str, error: str) -> ComputeJob:
    now = timezone.now()
    ComputeJob.objects.filter(pk=job.pk, state=JobState.QUEUED).update(
        state=JobState.FAILED,
        reason=reason[:400],
        last_error=error[:2000],
        next_attempt_at=None,
        ended_at=now,
        gpu_hours=Decimal(0),
        updated_at=now,
    )
    job.refresh_from_db()
    return job


def jobs_send_due(
    *, client: SlurmClient | None = None, now: dt.datetime | None = None, limit: int = 200
) -> int:
    """Send queued jobs whose turn has come (first attempts whose task was lost, retries after
    Slurm was unreachable, attempts whose worker died). Returns how many were sent."""
    now = now or timezone.now()
    due = list(
        ComputeJob.objects.filter(state=JobState.QUEUED)
        .filter(Q(next_attempt_at__isnull=True) | Q(next_attempt_at__lte=now))
        .order_by("created_at", "pk")
        .values_list("pk", "submit_attempts")[:limit]
    )
    client = client or _configured_client()
    if not due or client is None:
        return 0
    table = None
    if any(attempts for _, attempts in due):
        # Retries must first look for the job in Slurm: read the job table once for all of them.
        table = client.list_jobs(name_prefix="park-") or []
    sent = 0
    for job_id, _attempts in due:
        job = job_send(job_id=job_id, client=client, now=now, table=table)
        if job is not None and job.state != JobState.QUEUED:
            sent += 1
    return sent


# --------------------------------------------------------------------------------------------
# Following jobs in Slurm
# --------------------------------------------------------------------------------------------


@dataclass
class FollowReport:
    followed: int = 0
    changed: int = 0
    ended: int = 0
    vanished: int = 0


_last_table_read: dt.datetime | None = None


def jobs_follow(
    *, client: SlurmClient | None = None, now: dt.datetime | None = None
) -> FollowReport:
    """One pass over the live jobs: record what Slurm says, charge the ones that ended.

    A few live jobs are read one by one; many are read from one job-table read, skipped
    entirely when Slurm says nothing changed since the last read.
    """
    global _last_table_read
    client = client or _configured_client()
    if client is None:
        return FollowReport()
    now = now or timezone.now()
    live = list(
        ComputeJob.objects.filter(
            state__in=[JobState.PENDING, JobState.RUNNING], slurm_job_id__isnull=False
        ).order_by("pk")
    )
    report = FollowReport(followed=len(live))
    if not live:
        return report
    infos: dict[int, JobInfo | None]
    if len(live) <= FOLLOW_ONE_BY_ONE:
        infos = {job.slurm_job_id: client.get_job(job.slurm_job_id) for job in live}
    else:
        started = timezone.now()
        table = client.list_jobs(if_changed_since=_last_table_read)
        if table is None:
            return report
        _last_table_read = started - dt.timedelta(seconds=1)
        infos = {job.slurm_job_id: None for job in live}
        infos.update({info.job_id: info for info in table if info.job_id in infos})
    for job in live:
        try:
            with transaction.atomic():
                _follow_one(job, infos.get(job.slurm_job_id), client=client, now=now, report=report)
        except SlurmError as error:
            if error.transient:
                raise
            logger.warning("job %s not followed this pass: %s", job.pk, error)
        except Exception:
            # One bad row never stops the pass for the others.
            logger.exception("job %s not followed this pass", job.pk)
    return report


def _is_ours(job: ComputeJob, info: JobInfo) -> bool:
    """The record names our job: its name and its comment marker are ours."""
    return info.name == job.slurm_name and (not info.comment or info.comment == job_marker(job))


def _follow_one(
    job: ComputeJob,
    info: JobInfo | None,
    *,
    client: SlurmClient,
    now: dt.datetime,
    report: FollowReport,
) -> None:
    if info is not None and not _is_ours(job, info):
        # The id names another job now (Slurm lost ours in a controller crash and reissued its
        # id). Accounting may still hold our own record under that id; else let the id go.
        info = _from_accounting(client, job)
        if info is None or not _is_ours(job, info):
            _release_reissued_id(job, now=now)
            report.changed += 1
            return
    if info is None:
        info = _from_accounting(client, job)
    if info is None:
        if _end_vanished(job, now=now):
            report.vanished += 1
            report.ended += 1
        return
    if info.state is SlurmState.PENDING and _launch_failed_held(info):
        _release_held(job, info)
    changed, ended = job_apply_slurm_info(job=job, info=info)
    report.changed += changed
    report.ended += ended


def _launch_failed_held(info: JobInfo) -> bool:
    """Slurm holds the job: the park never submits held jobs, so this is a hold after a failed
    launch (slurmrestd reports it as JobHeldUser; the agent checks scontrol's own reason,
    launch_failed_requeued_held, before releasing)."""
    reason = info.state_reason.lower().replace("_", " ")
    return reason in ("jobhelduser", "jobheldadmin") or "launch failed requeued held" in reason


def _release_held(job: ComputeJob, info: JobInfo) -> None:
    """Slurm held our job after a failed launch (after a controller crash it gives the node
    "Duplicate jobid"): release it through the park agent, which checks the marker first."""
    from resources.slurm.agent_client import agent_from_settings

    agent = agent_from_settings()
    if agent is None:
        logger.warning(
            "job %s is held by Slurm (%s); no park agent to release it", job.pk, info.state_reason
        )
        return
    try:
        with agent:
            agent.job_release(job_id=info.job_id, comment=job_marker(job))
        logger.info("job %s: released Slurm job %s held after a failed launch", job.pk, info.job_id)
    except SlurmError as error:
        logger.warning(
            "job %s: could not release held Slurm job %s: %s", job.pk, info.job_id, error
        )


def _from_accounting(client: SlurmClient, job: ComputeJob) -> JobInfo | None:
    try:
        return client.accounting_job(job.slurm_job_id, name=job.slurm_name)
    except SlurmError as error:
        if error.transient:
            raise
        return None


def job_apply_slurm_info(*, job: ComputeJob, info: JobInfo) -> tuple[bool, bool]:
    """Record Slurm's view of a live job (race-safe: only if our state did not move meanwhile).

    Returns (changed, ended). An ended job gets its real end, exit code and GPU-hours, which
    is what its tenant's quota is charged."""
    state = _TO_OURS.get(info.state)
    if state is None:
        return False, False
    values: dict = {}
    if state != job.state:
        values["state"] = state
    if info.start_time and job.started_at != info.start_time:
        values["started_at"] = info.start_time
    ended = state not in LIVE_JOB_STATES
    if ended:
        values.update(
            ended_at=info.end_time or timezone.now(),
            exit_code=info.exit_code,
            gpu_hours=Decimal(str(info.gpu_hours)).quantize(_HOURS),
            reason=_end_reason(info)[:400],
        )
    if not values:
        return False, False
    values["updated_at"] = timezone.now()
    updated = ComputeJob.objects.filter(pk=job.pk, state=job.state).update(**values)
    return bool(updated), bool(updated) and ended


def _end_reason(info: JobInfo) -> str:
    if info.state is SlurmState.COMPLETED:
        return ""
    if info.state is SlurmState.FAILED and info.exit_code:
        return _("The script exited with code %(code)s.") % {"code": info.exit_code}
    if info.state is SlurmState.TIMEOUT:
        return _("The job reached its time limit.")
    if info.state is SlurmState.CANCELLED:
        return _("Cancelled.")
    return f"{info.state.value}: {info.state_reason}".strip(": ")


def _end_vanished(job: ComputeJob, *, now: dt.datetime) -> bool:
    """Slurm and accounting no longer know the job: end it rather than follow it forever.
    It is charged GPUs × the time it may have run (capped by its time limit)."""
    if job.submitted_at and now - job.submitted_at < VANISHED_GRACE:
        return False
    if job.state == JobState.PENDING and job.started_at is None:
        # Never started and unknown to Slurm and to accounting: Slurm lost it (a controller
        # crash loses the last submissions). Send it again rather than end it.
        _release_reissued_id(job, now=now, lost=True)
        return False
    hours = Decimal(0)
    if job.started_at:
        limit = dt.timedelta(minutes=job.time_limit_minutes)
        ran = min(now - job.started_at, limit).total_seconds()
        hours = (Decimal(job.gpus) * Decimal(ran) / Decimal(3600)).quantize(_HOURS)
    return bool(
        ComputeJob.objects.filter(pk=job.pk, state=job.state).update(
            state=JobState.FAILED,
            ended_at=now,
            gpu_hours=hours,
            reason=_("Slurm no longer knows this job; its final state could not be read.")[:400],
            updated_at=now,
        )
    )


# --------------------------------------------------------------------------------------------
# Cancelling
# --------------------------------------------------------------------------------------------


def job_cancel(*, user, job: ComputeJob, client: SlurmClient | None = None) -> ComputeJob:
    """Cancel a job of one's own (or, for a manager, of the tenant).

    A job not yet in Slurm is cancelled here; one in Slurm is cancelled there and its final
    state (with the GPU-hours it used) recorded. Raises ``NotFound`` for someone else's job,
    ``Conflict("job_not_live")`` for an ended one and ``ParkError("slurm_unavailable", 503)``
    when Slurm cannot be reached (nothing changes then)."""
    if not _may_manage(user=user, job=job):
        raise NotFound(_("job"))
    now = timezone.now()
    if ComputeJob.objects.filter(pk=job.pk, state=JobState.QUEUED).update(
        state=JobState.CANCELLED,
        ended_at=now,
        next_attempt_at=None,
        reason=_("Cancelled before it reached Slurm."),
        updated_at=now,
    ):
        job.refresh_from_db()
        return job
    job.refresh_from_db()
    if job.state not in LIVE_JOB_STATES:
        raise Conflict(
            "job_not_live",
            _("state: the job has already ended (%(state)s).") % {"state": job.get_state_display()},
            field="state",
        )
    if job.slurm_job_id is None:  # being sent right now; the sender cancels it in Slurm
        job.refresh_from_db()
        return job
    client = client or _configured_client()
    try:
        if client is None:
            raise SlurmError("Slurm is not configured (SLURM_REST_URL is unset)", transient=True)
        client.cancel(job.slurm_job_id)
        info = client.get_job(job.slurm_job_id)
    except SlurmError as error:
        raise ParkError(
            "slurm_unavailable",
            _("Slurm could not be reached to cancel the job; try again shortly."),
            status=503,
        ) from error
    if info is not None:
        job_apply_slurm_info(job=job, info=info)
    job.refresh_from_db()
    return job


def _may_manage(*, user, job: ComputeJob) -> bool:
    if user.is_superuser or job.user_id == user.pk:
        return True
    return Membership.objects.filter(
        user=user, tenant_id=job.tenant_id, role=Membership.Role.MANAGER
    ).exists()
