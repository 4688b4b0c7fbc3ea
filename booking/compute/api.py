"""Compute jobs of the acting tenant: submit, list, read, cancel (run on Slurm by the job
services; the API only parses input and calls them)."""

from __future__ import annotations

from django.http import HttpRequest
from django.utils.translation import gettext as _
from ninja import Query, Router

from booking.api_common import (
    Id,
    IdempotencyKey,
    Page,
    as_json,
    paginate,
    park_error_body,
    responses,
)
from booking.bookings.api import _booking_for
from booking.bookings.hooks import project_desk
from booking.compute.models import ComputeJob
from booking.compute.residency import DataClass, allowed_cluster_names, may_run
from booking.compute.schemas import ClusterOut, JobFilterIn, JobIn, JobOut, JobOutputOut
from booking.compute.selectors import job_get, job_output_tail, jobs_for_user
from booking.compute.services import job_cancel, job_submit
from booking.errors import NotFound, ParkError
from booking.tokens.auth import JOBS, READ, Caller
from booking.tokens.idempotency import Answer, answer_response, idempotent_call, request_fingerprint
from resources.clusters import clusters
from resources.models import ResourcePool

router = Router()


def _job_for(caller: Caller, pk: int) -> ComputeJob:
    job = job_get(user=caller.user, pk=pk)
    if job.tenant_id != caller.tenant.pk:
        raise NotFound(_("job"))
    return job


def _submit(caller: Caller, data: JobIn) -> ComputeJob:
    pool = None
    if data.pool:
        pool = ResourcePool.objects.filter(slug=data.pool).first()
        if pool is None:
            raise ParkError("unknown_pool", _("No such pool."), field="pool", status=422)
    booking = None
    if data.booking is not None:
        try:
            booking = _booking_for(caller, data.booking)
        except NotFound:
            raise ParkError(
                "unknown_booking", _("No such booking."), field="booking", status=422
            ) from None
    return job_submit(
        user=caller.user,
        tenant=caller.tenant,
        name=data.name,
        script=data.script,
        pool=pool,
        booking=booking,
        partition=data.partition or "",
        gpus=data.gpus,
        cpus=data.cpus,
        memory_mb=data.memory_mb,
        time_limit_minutes=data.time_limit_minutes,
        cluster=data.cluster or "",
        data_class=data.data_class or "",
        membership=caller.membership,
    )


# 503: no cluster is configured on this server.
@router.post("/jobs", auth=JOBS, response=responses({201: JobOut}, extra=(503,)))
def job_create(
    request: HttpRequest,
    payload: JobIn,
    idempotency_key: IdempotencyKey = None,
):
    """Submit a batch job: checked against the tenant's GPU-hour quota (and its booking, if
    given), stored as ``queued`` and handed to Slurm in the background."""
    caller: Caller = request.auth

    def work() -> Answer:
        project = project_desk().check(tenant=caller.tenant, project=payload.project)
        job = _submit(caller, payload)  # carries its tenant, user, pool and booking already
        project_desk().attach(project=project, job=job)
        return Answer(201, as_json(JobOut, job))

    answer = idempotent_call(
        user=caller.user,
        key=idempotency_key,
        fingerprint=request_fingerprint(
            method="POST", path="/jobs", payload=payload.model_dump(mode="json")
        ),
        work=work,
        on_error=lambda exc: Answer(exc.status, park_error_body(exc)),
    )
    return answer_response(answer)


@router.get("/jobs", auth=READ, response=responses({200: Page[JobOut]}, without=(409,)))
def job_list(request: HttpRequest, filters: Query[JobFilterIn]):
    """Your jobs in the acting tenant, newest first."""
    caller: Caller = request.auth
    qs = jobs_for_user(user=caller.user).filter(tenant=caller.tenant)
    if filters.state:
        qs = qs.filter(state__in=filters.state)
    return paginate(qs.order_by("-created_at", "-id"), filters)


@router.get("/jobs/{job_id}", auth=READ, response=responses({200: JobOut}, without=(409,)))
def job_detail(request: HttpRequest, job_id: Id):
    """One job with its Slurm state and the GPU-hours charged."""
    return _job_for(request.auth, job_id)


@router.get(
    "/jobs/{job_id}/output",
    auth=READ,
    response=responses({200: JobOutputOut}, without=(409,)),
)
def job_output_view(request: HttpRequest, job_id: Id):
    """The end of the job's standard output (its last 64 KiB), when this server can read it."""
    job = _job_for(request.auth, job_id)
    tail = job_output_tail(job=job)
    return {
        "job_id": job.pk,
        "readable": tail.readable,
        "output": tail.text,
        "truncated": tail.truncated,
    }


# 503: Slurm could not be reached to cancel a job it runs (nothing changed), or no cluster is
# configured on this server.
@router.post("/jobs/{job_id}/cancel", auth=JOBS, response=responses({200: JobOut}, extra=(503,)))
def job_cancel_view(request: HttpRequest, job_id: Id):
    """Cancel a queued, pending or running job."""
    caller: Caller = request.auth
    job = _job_for(caller, job_id)
    job_cancel(user=caller.user, job=job)
    return _job_for(caller, job.pk)


@router.get(
    "/clusters", auth=READ, response=responses({200: list[ClusterOut]}, without=(404, 409, 422))
)
def cluster_list(request: HttpRequest):
    """The Slurm clusters of the park (its own in Hong Kong, the GBA hub on the Mainland), their
    state, and what the acting tenant may run on each."""
    caller: Caller = request.auth
    allowed = allowed_cluster_names(caller.tenant)
    out = []
    for cluster in clusters():
        out.append(
            {
                "name": cluster.name,
                "jurisdiction": cluster.jurisdiction,
                "jurisdiction_label": str(cluster.get_jurisdiction_display()),
                "state": cluster.state,
                "usage": cluster.usage,
                "gpu_rate_factor": float(cluster.gpu_rate_factor),
                "allowed": allowed is None or cluster.name in allowed,
                "data_classes": [
                    c
                    for c in DataClass.values
                    if may_run(tenant=caller.tenant, data_class=c, cluster=cluster)
                ],
            }
        )
    return out
