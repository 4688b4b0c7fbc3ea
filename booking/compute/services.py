"""Compute jobs on Slurm: submit (checked, stored, sent once by a task) and cancel.

The flow:

1. ``job_submit`` checks the request (membership and cluster identity, booking window, partition
   limits, GPU-hour quota), stores the job as ``queued`` and starts ``job_submit_task`` on commit.
2. ``compute.sending.job_send`` (run by that task, and by the periodic sweep for jobs whose
   earlier attempt failed) submits the job to slurmrestd exactly once.
3. ``compute.following.jobs_follow`` reads the live jobs from Slurm and records state, real
   start/end, exit code and GPU-hours; ended jobs are charged to the tenant's GPU quota.
4. ``job_cancel`` cancels before submission here, or records the cancel for a worker to send.
"""

from __future__ import annotations

import datetime as dt
import logging
from decimal import Decimal

from django.db import connection, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from booking import sql
from booking.bookings.models import Booking, BookingStatus
from booking.compute import slurm
from booking.compute.models import LIVE_JOB_STATES, ComputeJob, JobState
from booking.compute.reasons import job_reason_stored
from booking.compute.residency import policy_of
from booking.compute.routing import job_data_class, job_route
from booking.compute.slurm import (
    _cluster_snapshot,
    cluster_membership,
    pool_target,
)
from booking.compute.tasks import job_cancel_task, job_send_soon
from booking.compute.unreserved import check_unreserved_capacity
from booking.errors import Conflict, NotFound, ParkError
from booking.tenancy.access import may_act_for
from booking.tenancy.models import Membership, Quota, Tenant
from booking.tenancy.selectors import period_bounds, used_hours
from resources.models import ResourceKind, ResourcePool
from resources.slurm import (
    SlurmClient,
)

logger = logging.getLogger(__name__)


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
    cluster: str = "",
    data_class: str = "",
    client: SlurmClient | None = None,
    now: dt.datetime | None = None,
    membership: Membership | None = None,
) -> ComputeJob:
    """Check a job request, store it as ``queued`` and hand it to Slurm once the transaction
    commits.

    In: the acting ``user`` and ``tenant``, the batch ``script`` and its resources. The partition
    comes from ``booking`` (its GPU node), else from ``pool`` (its members' partition), else from
    ``partition``. ``membership``: the user's membership of the tenant when the caller has read
    it already (an API call's token carries it). Out: the stored ``ComputeJob``.

    Raises ``ParkError`` naming the field and rule: ``not_a_member``, ``no_cluster_identity``,
    ``partition_required``, ``unknown_partition``, ``time_limit_too_long``, ``too_many_gpus``,
    ``booking_*`` (not confirmed, not a GPU node, ended, too short, too few GPUs),
    ``quota_exceeded``, ``no_unreserved_capacity`` (409: an unbooked job that cannot start
    outside the partition's booked windows within the horizon, ``booking.compute.unreserved``);
    for the cluster (``booking.compute.routing``): ``unknown_cluster``,
    ``cluster_mismatch``, ``cluster_not_allowed``, ``cluster_not_taking_jobs``,
    ``no_cluster_available``, ``unknown_data_class`` and ``data_residency``. Nothing is stored
    on refusal.
    """
    now = now or timezone.now()
    name = (name or "").strip()
    if not name:
        raise ParkError("name_required", _("Give the job a name."), field="name")
    if not (script or "").startswith("#!"):
        raise ParkError(
            "script_needs_shebang",
            _("A batch script starts with #! (e.g. #!/bin/bash)."),
            field="script",
        )
    membership = cluster_membership(user=user, tenant=tenant, membership=membership)
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
        partition, gpu_type = pool_target(pool)
    partition = (partition or "").strip()
    if not partition:
        raise ParkError(
            "partition_required",
            _("Name a partition, a GPU pool or a booking to run in."),
            field="partition",
        )
    policy = policy_of(tenant)  # read once for the class and the route
    data_class = job_data_class(tenant=tenant, data_class=data_class, policy=policy)
    target = job_route(
        tenant=tenant,
        data_class=data_class,
        cluster_name=cluster,
        partition=partition,
        pool=pool,
        booking=booking,
        policy=policy,
    )
    _check_partition(
        # No cluster configured on this server: ImproperlyConfigured (the API answers 503).
        client=client or slurm.cluster_client(target),
        partition=partition,
        gpu_type=gpu_type,
        gpus=gpus,
        cpus=cpus,
        time_limit_minutes=time_limit_minutes,
    )
    if booking is None:
        # Bookings are Slurm reservations on whole nodes: an unbooked job must fit outside them.
        check_unreserved_capacity(
            tenant_id=tenant.pk,
            cluster_name=target.name,
            partition=partition,
            gpus=gpus,
            gpu_type=gpu_type,
            time_limit_minutes=time_limit_minutes,
            now=now,
        )
    job = ComputeJob(
        tenant=tenant,
        user=user,
        booking=booking,
        pool=pool,
        cluster=target,
        data_class=data_class,
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
    # would cost a query each on the hot path), and so are the foreign keys: the related rows
    # were loaded and checked above.
    job.full_clean(
        exclude=["tenant", "user", "booking", "pool", "cluster"],
        validate_unique=False,
        validate_constraints=False,
    )
    with transaction.atomic():
        # The row first, then the tenant's lock: submissions of one tenant take turns for the
        # quota check only (the lock is held for the use sum and the commit, not the insert).
        # The sum sees this job (its own transaction's row) and every committed one; a refusal
        # rolls the row back.
        job.save()
        if booking is None:
            _check_quota(
                tenant=tenant,
                quotas=_lock_tenant_reading_quotas(tenant),
                gpus=gpus,
                time_limit_minutes=time_limit_minutes,
                now=now,
                stored=job,
            )
        job_id = job.pk
        cluster_id = target.pk
        transaction.on_commit(lambda: _start_send_task(job_id, cluster_id=cluster_id))
    logger.info("job %s stored for %s (%s)", job.pk, tenant.slug, membership.cluster_username)
    return job


def _start_send_task(job_id: int, *, cluster_id: int | None) -> None:
    try:
        job_send_soon(job_id, cluster_id=cluster_id)
    except Exception as error:
        # The job is stored; the queue is unreachable. The follower's sweep sends it later
        # (jobs_send_due takes every queued job whose turn has come).
        logger.warning("job %s stored; its send task could not be queued: %s", job_id, error)


def _check_booking(
    *, booking: Booking, tenant: Tenant, gpus: int, time_limit_minutes: int, now: dt.datetime
) -> tuple[str, str | None, str]:
    """The booking a job runs in: confirmed, this tenant's, a GPU node, long and wide enough."""
    if booking.tenant_id != tenant.pk:
        raise NotFound(_("booking"), field="booking")
    if booking.status != BookingStatus.CONFIRMED:
        raise ParkError(
            "booking_not_confirmed",
            _("Only a confirmed booking can run jobs."),
            field="booking",
        )
    resource = booking.resource
    node = getattr(resource, "gpu", None) if resource is not None else None
    if node is None or resource.kind != ResourceKind.GPU_NODE:
        raise ParkError("booking_not_gpu", _("The booking is not on a GPU node."), field="booking")
    if booking.end <= now:
        raise ParkError("booking_ended", _("The booking has ended."), field="booking")
    begin = max(now, booking.start)
    if begin + dt.timedelta(minutes=time_limit_minutes) > booking.end:
        left = int((booking.end - begin).total_seconds() // 60)
        raise ParkError(
            "booking_too_short",
            _("The job would run past the booking's end; at most %(left)s minutes fit."),
            params={"left": left},
            field="time_limit_minutes",
        )
    if gpus > booking.units:
        raise ParkError(
            "booking_too_few_gpus",
            _("The booking holds %(units)s GPUs."),
            params={"units": booking.units},
            field="gpus",
        )
    return node.slurm_partition, node.gpu_model.lower() or None, node.slurm_node


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
            _("The cluster has no partition %(name)s."),
            params={"name": partition},
            field="partition",
        )
    if part.max_time_minutes is not None and time_limit_minutes > part.max_time_minutes:
        raise ParkError(
            "time_limit_too_long",
            _("Partition %(name)s allows at most %(max)s minutes."),
            params={"name": partition, "max": part.max_time_minutes},
            field="time_limit_minutes",
        )
    nodes = [n for n in snapshot.nodes if partition in n.partitions]
    if gpus:
        fitting = [n.gpu_count for n in nodes if gpu_type in (None, n.gpu_type)]
        most = max(fitting, default=0)
        if gpus > most:
            raise ParkError(
                "too_many_gpus",
                _("A node in partition %(name)s has at most %(max)s GPUs%(model)s."),
                params={
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
            _("A node in partition %(name)s has at most %(max)s CPUs."),
            params={"name": partition, "max": most_cpus},
            field="cpus",
        )


def _lock_tenant_reading_quotas(tenant: Tenant) -> list[tuple[str, object]]:
    """Row-lock the tenant until the transaction ends (PostgreSQL; SQLite has one writer) and
    read its GPU quotas (period, hours), in one statement.

    On PostgreSQL the lock is ``FOR NO KEY UPDATE``: submissions of one tenant still take
    turns, but a transaction that adds a row referring to the tenant (a booking, a member, an
    event: its foreign key takes ``FOR KEY SHARE``) neither waits for a submission nor holds
    one up."""
    t, q = sql.table(Tenant), sql.table(Quota)
    statement = (
        f"SELECT {q}.{sql.column(Quota, 'period')}, {q}.{sql.column(Quota, 'hours')} "
        f"FROM {t} LEFT JOIN {q} ON {q}.{sql.column(Quota, 'tenant')} = {t}.{sql.column(Tenant, 'id')} "
        f"AND {q}.{sql.column(Quota, 'resource_class')} = %s "
        f"WHERE {t}.{sql.column(Tenant, 'id')} = %s"
    )
    if connection.vendor == "postgresql":
        statement += f" FOR NO KEY UPDATE OF {t}"
    elif connection.features.has_select_for_update:
        statement += f" FOR UPDATE OF {t}"
    rows = sql.all_rows(statement, [ResourceKind.GPU_NODE, tenant.pk])
    return [(period, hours) for period, hours in rows if period is not None]


def _check_quota(
    *,
    tenant: Tenant,
    quotas: list[tuple[str, object]],
    gpus: int,
    time_limit_minutes: int,
    now: dt.datetime,
    stored: ComputeJob | None = None,
) -> None:
    """GPUs × time limit must fit in what is left of every GPU quota period containing now
    (``quotas``: the tenant's GPU quotas as (period, hours)); ``stored``: the job, saved in
    this transaction already, so the use read of a period holding its creation counts it."""
    if not gpus:
        return
    wanted = Decimal(gpus) * Decimal(time_limit_minutes) / Decimal(60)
    for period, hours in quotas:
        quota = Quota(
            tenant=tenant,
            resource_class=ResourceKind.GPU_NODE,
            period=period,
            hours=sql.decimal(hours),
        )
        start, end = period_bounds(period=quota.period, at=now)
        used = used_hours(tenant=tenant, resource_class=ResourceKind.GPU_NODE, start=start, end=end)
        if stored is not None and start <= stored.created_at < end:
            used -= wanted
        if used + wanted > quota.hours:
            raise ParkError(
                "quota_exceeded",
                _(
                    "%(tenant)s has %(left)s of %(quota)s GPU-hours left in "
                    "the %(period)s; this job may use %(wanted)s (GPUs × time limit)."
                ),
                params={
                    "tenant": tenant.name,
                    "left": max(Decimal(0), quota.hours - used).quantize(Decimal("0.01")),
                    "quota": quota.hours,
                    "period": quota.get_period_display().lower(),
                    "wanted": wanted.quantize(Decimal("0.01")),
                },
                field="time_limit_minutes",
            )


def job_cancel(*, user, job: ComputeJob, client: SlurmClient | None = None) -> ComputeJob:
    """Cancel a job of one's own (or, for a manager, of the tenant).

    A job not yet in Slurm is cancelled here. For one in Slurm the cancel is recorded and sent
    by a huey task once this commits (never in the caller's request); the job stays live and
    ``cancelling`` until the follower sees its final state (with the GPU-hours it used) in
    Slurm. Raises ``NotFound`` for someone else's job, ``Conflict("job_not_live")`` for an
    ended one and ``ParkError("slurm_unavailable", 503)`` when no cluster is configured
    (nothing changes then)."""
    if not may_act_for(user=user, owner_id=job.user_id, tenant_id=job.tenant_id):
        raise NotFound(_("job"))
    now = timezone.now()
    if ComputeJob.objects.filter(pk=job.pk, state=JobState.QUEUED).update(
        state=JobState.CANCELLED,
        ended_at=now,
        next_attempt_at=None,
        reason=job_reason_stored("cancelled_before_slurm"),
        reason_code="cancelled_before_slurm",
        reason_params={},
        updated_at=now,
    ):
        job.refresh_from_db()
        return job
    job.refresh_from_db()
    if job.state not in LIVE_JOB_STATES:
        raise Conflict(
            "job_not_live",
            _("The job has already ended (%(state)s)."),
            params={"state": job.get_state_display()},
            field="state",
        )
    if job.slurm_job_id is None:  # being sent right now; the sender cancels it in Slurm
        job.refresh_from_db()
        return job
    if (client or slurm.configured_cluster_client(job.cluster)) is None:
        raise ParkError(
            "slurm_unavailable",
            _("Slurm could not be reached to cancel the job; try again shortly."),
            status=503,
        )
    # Slurm is told by a worker (``tasks.job_cancel_task``); the job is "cancelling" until
    # Slurm reports it ended. Asking twice records the first request only.
    with transaction.atomic():
        if ComputeJob.objects.filter(
            pk=job.pk, state__in=LIVE_JOB_STATES, cancel_requested_at__isnull=True
        ).update(cancel_requested_at=now, updated_at=now):
            transaction.on_commit(lambda: job_cancel_task(job.pk))
    job.refresh_from_db()
    return job
