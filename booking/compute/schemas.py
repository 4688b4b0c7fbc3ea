"""API schemas of compute jobs."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Literal

from ninja import Field, Schema
from pydantic import AfterValidator, StringConstraints

from booking.api_common import Id, PageIn, Slug, StrictIn, Text, _no_nul

JobStateName = Literal[
    "queued", "pending", "running", "completed", "failed", "cancelled", "timeout"
]


DataClassName = Literal["open", "hk_only", "personal", "cross_boundary_approved"]


class JobIn(StrictIn):
    name: Annotated[Text, StringConstraints(min_length=1, max_length=120)]
    script: Annotated[
        str, StringConstraints(min_length=1, max_length=100_000), AfterValidator(_no_nul)
    ] = Field(description="The batch script (starts with #!).")
    pool: Slug | None = Field(None, description="GPU pool to run on (or a booking).")
    booking: Id | None = Field(None, description="Run inside this confirmed GPU booking.")
    partition: Slug | None = Field(None, description="Slurm partition, if not implied.")
    gpus: int = Field(0, ge=0, le=64)
    cpus: int = Field(1, ge=1, le=1024)
    memory_mb: int = Field(1024, ge=1, le=10_000_000)
    time_limit_minutes: int = Field(ge=1, le=43_200)
    cluster: Slug | None = Field(
        None, description="Cluster to run on (GET /clusters); unnamed, the park routes the job."
    )
    data_class: DataClassName | None = Field(
        None,
        description="What the job's data is (default: the tenant's data policy's, else "
        "hk_only). A class that may not go to the cluster is refused with data_residency.",
    )
    project: Id | None = Field(
        None, description="The tenant's project to charge (default: the tenant's default)."
    )


class JobOut(Schema):
    id: int
    tenant: str
    user: str
    name: str
    pool: str | None
    booking: int | None = Field(None, alias="booking_id")
    partition: str
    gpus: int
    cpus: int
    memory_mb: int
    time_limit_minutes: int
    state: JobStateName
    cancelling: bool = Field(
        False, description="A cancel was asked; Slurm has not reported the job ended yet."
    )
    slurm_job_id: int | None
    reason: str
    reason_code: str = Field(
        description='Why the job ended, as a stable code ("" if it completed).'
    )
    reason_params: dict = Field(description="The parameters of the reason (e.g. the exit code).")
    exit_code: int | None
    submitted_at: dt.datetime | None
    started_at: dt.datetime | None
    ended_at: dt.datetime | None
    gpu_hours: float
    created_at: dt.datetime
    cluster: str | None = Field(None, description="The cluster the job runs (or ran) on.")
    data_class: DataClassName

    @staticmethod
    def resolve_cluster(obj) -> str | None:
        return obj.cluster.name if obj.cluster_id else None

    @staticmethod
    def resolve_tenant(obj) -> str:
        return obj.tenant.slug

    @staticmethod
    def resolve_user(obj) -> str:
        return obj.user.get_username()

    @staticmethod
    def resolve_pool(obj) -> str | None:
        return obj.pool.slug if obj.pool_id else None


class JobOutputOut(Schema):
    job_id: int
    readable: bool = Field(
        description="Whether this server can read the job's output file (it shares the "
        "cluster's job directory and Slurm has given the job an id)."
    )
    output: str | None = Field(
        description="The end of the job's standard output (at most 64 KiB, decoded as UTF-8); "
        "null when not readable."
    )
    truncated: bool = Field(description="Earlier output was left out.")


class JobFilterIn(PageIn):
    state: list[JobStateName] | None = Field(None, description="Any of these states.")


class ClusterOut(Schema):
    name: str
    jurisdiction: Literal["hk", "mainland"]
    jurisdiction_label: str = Field(description="The jurisdiction in the caller's language.")
    state: Literal["up", "draining", "down"]
    usage: Literal["primary", "overflow", "on_request"] = Field(
        description="primary: routed jobs go here first; overflow: when the primary's queue is "
        "deep; on_request: only when named."
    )
    gpu_rate_factor: float = Field(description="GPU-hours here are billed at this factor.")
    allowed: bool = Field(description="The acting tenant may run jobs here.")
    data_classes: list[DataClassName] = Field(
        description="The acting tenant's data classes that may run here now."
    )
