"""Reads about compute jobs: lists, one job, the tail of its output. Another tenant's job → NotFound."""

from __future__ import annotations

import datetime as dt
import os
import stat
from dataclasses import dataclass
from decimal import Decimal

from django.db.models import (
    Q,
)

from booking import sql
from booking.compute.models import LIVE_JOB_STATES, ComputeJob
from booking.compute.slurm import job_output_path
from booking.errors import NotFound
from booking.ids import plain_pk
from booking.tenancy.access import require_manager, visible_q
from booking.tenancy.models import Tenant
from booking.tenancy.usage import UsageQuery
from resources.models import ResourceKind

_JOB_RELATED = ("tenant", "user", "pool", "booking")


# The most of a job's standard output shown or returned: its last 64 KiB.
JOB_OUTPUT_LIMIT = 64 * 1024


def jobs_for_user(*, user):
    """The user's own compute jobs, newest first."""
    return (
        ComputeJob.objects.filter(user=user)
        .select_related(*_JOB_RELATED)
        .order_by("-created_at", "-id")
    )


def jobs_for_tenant(*, user, tenant: Tenant):
    """All compute jobs of ``tenant``, newest first, for its managers (and operators); anyone
    else gets 404."""
    require_manager(user=user, tenant=tenant)
    return (
        ComputeJob.objects.filter(tenant=tenant)
        .select_related(*_JOB_RELATED)
        .order_by("-created_at", "-id")
    )


def _job_pk(pk) -> int:
    return plain_pk(pk, what="job")


def job_get(*, user, pk) -> ComputeJob:
    """One job the user may see: their own, or any of a tenant they manage (operators: all).
    Anything else, and a malformed id, answers 404."""
    q = Q(pk=_job_pk(pk))
    if not user.is_superuser:
        q &= visible_q(user=user)
    job = ComputeJob.objects.filter(q).select_related(*_JOB_RELATED).first()
    if job is None:
        raise NotFound("job")
    return job


@dataclass(frozen=True)
class JobOutput:
    """The tail of a job's standard output: ``text`` is None when this host cannot read the
    file; ``truncated`` says earlier output was left out."""

    text: str | None
    truncated: bool = False

    @property
    def readable(self) -> bool:
        return self.text is not None


def job_output_tail(*, job: ComputeJob, limit: int = JOB_OUTPUT_LIMIT) -> JobOutput:
    """The last ``limit`` bytes of ``job``'s standard output (the caller fetched the job through
    ``job_get``, which decides who may see it).

    Only a regular file with one link is read, and never through a symbolic link: the job's
    script writes into the output directory and must not be able to point the web server at
    another file it can read (keys, the database)."""
    path = job_output_path(job)
    if path is None:
        return JobOutput(text=None)
    flags = os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0)
    try:
        fd = os.open(path, flags)
    except OSError:
        return JobOutput(text=None)
    with os.fdopen(fd, "rb") as handle:
        try:
            info = os.fstat(handle.fileno())
            if not stat.S_ISREG(info.st_mode) or info.st_nlink != 1:
                return JobOutput(text=None)
            size = info.st_size
            handle.seek(max(0, size - limit))
            data = handle.read(limit)
        except OSError:
            return JobOutput(text=None)
    truncated = size > limit
    if truncated:
        # The cut may fall inside a UTF-8 character: start at the next whole one.
        skip = 0
        while skip < min(3, len(data)) and data[skip] & 0xC0 == 0x80:
            skip += 1
        data = data[skip:]
    return JobOutput(text=data.decode("utf-8", errors="replace"), truncated=truncated)


def job_output(*, user, pk, limit: int = JOB_OUTPUT_LIMIT) -> str | None:
    """The tail (``limit`` bytes) of a visible job's standard output, when this host can read
    the file (the job's working directory is shared with the cluster); else None."""
    return job_output_tail(job=job_get(user=user, pk=pk), limit=limit).text


def job_hours_held(
    *,
    tenant,
    resource_class: str,
    start: dt.datetime,
    end: dt.datetime,
    exclude_booking_id=None,
) -> UsageQuery | None:
    """GPU-hours the tenant's jobs created in [start, end) hold outside bookings: live jobs hold
    GPUs × time limit, ended ones count their real GPU-hours (a job inside a booking is covered
    by that booking). The usage source of compute for quota use (``ComputeConfig.ready``); None
    for other classes."""
    if resource_class != ResourceKind.GPU_NODE:
        return None
    # One aggregate for both, in SQL (the hot path of POST /jobs: a backlog of live jobs is not
    # read row by row, and no queryset is compiled; ``booking.sql``).
    j = sql.table(ComputeJob)
    state = sql.column(ComputeJob, "state")
    live = sql.placeholders(LIVE_JOB_STATES)
    statement = (
        f"SELECT SUM(CASE WHEN {state} IN ({live}) THEN "
        f"{sql.column(ComputeJob, 'gpus')} * {sql.column(ComputeJob, 'time_limit_minutes')} END), "
        f"SUM(CASE WHEN {state} NOT IN ({live}) THEN {sql.column(ComputeJob, 'gpu_hours')} END) "
        f"FROM {j} WHERE {sql.column(ComputeJob, 'tenant')} = %s "
        f"AND {sql.column(ComputeJob, 'booking')} IS NULL "
        f"AND {sql.column(ComputeJob, 'created_at')} >= %s "
        f"AND {sql.column(ComputeJob, 'created_at')} < %s"
    )
    return UsageQuery(
        statement,
        [*LIVE_JOB_STATES, *LIVE_JOB_STATES, sql.pk(tenant), sql.at(start), sql.at(end)],
        2,
        lambda row: sql.decimal(row[0]) / Decimal(60) + sql.decimal(row[1]),
    )
