"""Following live jobs in Slurm: state, real start and end, exit code and GPU-hours used."""

from __future__ import annotations

import datetime as dt
import logging
from collections import defaultdict
from dataclasses import dataclass
from decimal import Decimal

from django.db import connection, transaction
from django.db.models import Case, F, Value, When
from django.db.models.functions import Cast
from django.utils import timezone
from django.utils.translation import gettext as _

from booking.compute.models import LIVE_JOB_STATES, ComputeJob, JobState
from booking.compute.reasons import job_reason_stored
from booking.compute.slurm import configured_cluster_client, job_marker, jobs_of_cluster
from resources.clusters import Cluster, default_cluster
from resources.slurm import (
    JobInfo,
    SlurmClient,
    SlurmError,
)
from resources.slurm import JobState as SlurmState

# Up to this many live jobs are read one by one; above it one job-table read is cheaper.
FOLLOW_ONE_BY_ONE = 40


logger = logging.getLogger(__name__)

# A job Slurm no longer knows (and accounting cannot resolve) is ended after this grace.
VANISHED_GRACE = dt.timedelta(minutes=2)


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


@dataclass
class FollowReport:
    followed: int = 0
    changed: int = 0
    ended: int = 0
    vanished: int = 0


# Per cluster: when its job table was last read.
_last_table_read: dict[str, dt.datetime] = {}

# At most this many rows in one recording UPDATE.
_WRITE_BATCH = 250

# A field a change does not set (None is a value: an exit code Slurm does not know).
_MISSING = object()


@dataclass(frozen=True)
class _Change:
    """What Slurm's record changes in one live job, written only if its state is still ``state``."""

    pk: int
    state: str
    values: dict
    ended: bool


def jobs_follow(
    *,
    client: SlurmClient | None = None,
    now: dt.datetime | None = None,
    cluster: Cluster | None = None,
) -> FollowReport:
    """One pass over the live jobs: record what Slurm says, charge the ones that ended.

    A few live jobs are read one by one; many are read from one job-table read, skipped
    entirely when Slurm says nothing changed since the last read, and only our jobs of it are
    decoded. The jobs are those of ``cluster`` (default: the default cluster), read through its
    client. An unchanged job costs no database work; the changed ones are written together
    (``_changes_record``: a few UPDATEs, each row only if its state did not move meanwhile).
    """
    cluster = cluster or default_cluster()
    client = client or configured_cluster_client(cluster)
    if client is None:
        return FollowReport()
    now = now or timezone.now()
    live = list(
        jobs_of_cluster(cluster)
        .filter(state__in=[JobState.PENDING, JobState.RUNNING], slurm_job_id__isnull=False)
        .defer("script")
        .order_by("pk")
    )
    report = FollowReport(followed=len(live))
    if not live:
        return report
    infos: dict[int, JobInfo | None]
    if len(live) <= FOLLOW_ONE_BY_ONE:
        infos = {job.slurm_job_id: client.get_job(job.slurm_job_id) for job in live}
    else:
        started = timezone.now()
        infos = {job.slurm_job_id: None for job in live}
        table = client.list_jobs(
            if_changed_since=_last_table_read.get(cluster.name), job_ids=infos.keys()
        )
        if table is None:
            return report
        _last_table_read[cluster.name] = started - dt.timedelta(seconds=1)
        infos.update({info.job_id: info for info in table if info.job_id in infos})
    changes = []
    for job in live:
        try:
            change = _follow_one(
                job, infos.get(job.slurm_job_id), client=client, now=now, report=report
            )
        except SlurmError as error:
            if error.transient:
                # What was read before Slurm went away is kept; the rest waits for the next pass.
                _changes_record(changes, report=report)
                raise
            logger.warning("job %s not followed this pass: %s", job.pk, error)
        except Exception:
            # One bad row never stops the pass for the others.
            logger.exception("job %s not followed this pass", job.pk)
        else:
            if change is not None:
                changes.append(change)
    _changes_record(changes, report=report)
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
) -> _Change | None:
    """What Slurm's record ``info`` changes in ``job``, to be written with the others' changes;
    None when nothing. The rare cases are written here at once, one statement each: the id
    names another job now, or neither Slurm nor accounting knows the job any more."""
    if info is not None and not _is_ours(job, info):
        # The id names another job now (Slurm lost ours in a controller crash and reissued its
        # id). Accounting may still hold our own record under that id; else let the id go.
        info = _from_accounting(client, job)
        if info is None or not _is_ours(job, info):
            with transaction.atomic():
                release_reissued_id(job, now=now)
            report.changed += 1
            return None
    if info is None:
        info = _from_accounting(client, job)
    if info is None:
        with transaction.atomic():
            vanished = _end_vanished(job, now=now)
        if vanished:
            report.vanished += 1
            report.ended += 1
        return None
    if info.state is SlurmState.PENDING and _launch_failed_held(info):
        _release_held(job, info)
    values = job_slurm_values(job=job, info=info)
    if not values:
        return None
    ended = values.get("state", job.state) not in LIVE_JOB_STATES
    return _Change(pk=job.pk, state=job.state, values=values, ended=ended)


def _changes_record(changes: list[_Change], *, report: FollowReport) -> None:
    """Write the changes, one UPDATE per batch of jobs with the same state as read and the
    same outcome (ended or not), so that the rows it updated are the report's counts. A batch
    that fails is written again one row at a time: one bad row never stops the others."""
    groups: dict[tuple[str, bool], list[_Change]] = defaultdict(list)
    for change in changes:
        groups[(change.state, change.ended)].append(change)
    for (state, ended), group in groups.items():
        for start in range(0, len(group), _WRITE_BATCH):
            batch = group[start : start + _WRITE_BATCH]
            try:
                with transaction.atomic():
                    updated = _batch_write(state, batch)
            except Exception:
                logger.warning("%s job changes written one by one", len(batch), exc_info=True)
                updated = 0
                for change in batch:
                    try:
                        with transaction.atomic():
                            updated += _batch_write(state, [change])
                    except Exception:
                        logger.exception("job %s not followed this pass", change.pk)
            report.changed += updated
            if ended:
                report.ended += updated


def _batch_write(state: str, batch: list[_Change]) -> int:
    """One UPDATE of the batch's rows that are still in ``state`` (race-safe: a row that moved
    meanwhile is left alone). A value all rows share is set as is; the others by a CASE on
    the row, which keeps a row's own value where it changes nothing. Returns the rows updated."""
    assignments: dict = {}
    names = {name for change in batch for name in change.values}
    for name in sorted(names):
        field = ComputeJob._meta.get_field(name)
        first = batch[0].values.get(name, _MISSING)
        if all(change.values.get(name, _MISSING) == first for change in batch):
            assignments[name] = Value(first, output_field=field)
            continue
        case = Case(
            *(
                When(pk=change.pk, then=Value(change.values[name], output_field=field))
                for change in batch
                if name in change.values
            ),
            default=F(name),
            output_field=field,
        )
        if connection.features.requires_casted_case_in_updates:
            case = Cast(case, output_field=field)
        assignments[name] = case
    assignments["updated_at"] = timezone.now()
    return ComputeJob.objects.filter(pk__in=[change.pk for change in batch], state=state).update(
        **assignments
    )


def release_reissued_id(job: ComputeJob, *, now: dt.datetime, lost: bool = False) -> None:
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
        params = {"id": job.slurm_job_id}
        values.update(
            state=JobState.FAILED,
            ended_at=now,
            reason=job_reason_stored("slurm_id_reissued", params),
            reason_code="slurm_id_reissued",
            reason_params=params,
        )
    ComputeJob.objects.filter(pk=job.pk).update(**values)
    logger.warning("job %s: %s", job.pk, note)


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
    values = job_slurm_values(job=job, info=info)
    if not values:
        return False, False
    ended = values.get("state", job.state) not in LIVE_JOB_STATES
    values["updated_at"] = timezone.now()
    updated = ComputeJob.objects.filter(pk=job.pk, state=job.state).update(**values)
    return bool(updated), bool(updated) and ended


def job_slurm_values(*, job: ComputeJob, info: JobInfo) -> dict:
    """The fields of ``job`` that Slurm's record ``info`` changes (empty: nothing to write).

    An ended job gets its real end, exit code, GPU-hours and reason."""
    state = _TO_OURS.get(info.state)
    if state is None:
        return {}
    values: dict = {}
    if state != job.state:
        values["state"] = state
    if info.start_time and job.started_at != info.start_time:
        values["started_at"] = info.start_time
    if state not in LIVE_JOB_STATES:
        values.update(
            ended_at=info.end_time or timezone.now(),
            exit_code=info.exit_code,
            gpu_hours=Decimal(str(info.gpu_hours)).quantize(_HOURS),
            **_end_reason(info),
        )
    return values


def _end_reason(info: JobInfo) -> dict:
    """The reason fields of a job that ended as Slurm says."""
    if info.state is SlurmState.COMPLETED:
        code, params = "", {}
    elif info.state is SlurmState.FAILED and info.exit_code:
        code, params = "script_exit", {"code": info.exit_code}
    elif info.state is SlurmState.TIMEOUT:
        code, params = "time_limit", {}
    elif info.state is SlurmState.CANCELLED:
        code, params = "cancelled", {}
    else:
        # Slurm's own state and reason, in Slurm's words.
        text = f"{info.state.value}: {info.state_reason}".strip(": ")
        params = {"state": info.state.value, "detail": info.state_reason or ""}
        return {"reason": text[:400], "reason_code": "slurm_state", "reason_params": params}
    return {
        "reason": job_reason_stored(code, params),
        "reason_code": code,
        "reason_params": params,
    }


def _end_vanished(job: ComputeJob, *, now: dt.datetime) -> bool:
    """Slurm and accounting no longer know the job: end it rather than follow it forever.
    It is charged GPUs × the time it may have run (capped by its time limit)."""
    if job.submitted_at and now - job.submitted_at < VANISHED_GRACE:
        return False
    if job.state == JobState.PENDING and job.started_at is None:
        # Never started and unknown to Slurm and to accounting: Slurm lost it (a controller
        # crash loses the last submissions). Send it again rather than end it.
        release_reissued_id(job, now=now, lost=True)
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
            reason=job_reason_stored("vanished"),
            reason_code="vanished",
            reason_params={},
            updated_at=now,
        )
    )
