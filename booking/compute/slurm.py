"""The Slurm side of compute jobs: the client, a short-lived snapshot of partitions, and the
request a stored job becomes.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
import time
import weakref
from dataclasses import dataclass, field

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext as _

from booking.compute.models import ComputeJob
from booking.errors import ParkError
from booking.tenancy.models import Membership, Tenant
from resources.clusters import Cluster, client_for
from resources.models import ResourceKind, ResourcePool
from resources.slurm import (
    JobSpec,
    NodeInfo,
    PartitionInfo,
    SlurmClient,
    SlurmError,
    client_from_settings,
)
from resources.slurm_park import account_name, reservation_name

_client_lock = threading.Lock()


_client: tuple[tuple, SlurmClient] | None = None

logger = logging.getLogger(__name__)


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


def warm_default_client() -> None:
    """Build this process's client of the default cluster and its partition snapshot now (a
    server worker before its first request), not on the first submission."""
    client = configured_client()
    if client is not None:
        _cluster_snapshot(client)


def configured_client() -> SlurmClient | None:
    """The client, or None when no cluster is configured (SLURM_REST_URL unset): background
    work then leaves jobs where they are instead of failing."""
    try:
        return slurm_client()
    except ImproperlyConfigured:
        return None


def cluster_client(cluster: Cluster | None) -> SlurmClient:
    """The client of ``cluster`` (a registry lookup); the default cluster without a URL of its
    own is the ``SLURM_*`` settings. Raises ImproperlyConfigured when it cannot be reached."""
    if cluster is None or (cluster.is_default and not cluster.rest_url):
        return slurm_client()
    return client_for(cluster)


def configured_cluster_client(cluster: Cluster | None) -> SlurmClient | None:
    try:
        return cluster_client(cluster)
    except ImproperlyConfigured:
        return None


def cluster_membership(*, user, tenant: Tenant, membership: Membership | None = None) -> Membership:
    """``user``'s membership of the active ``tenant``, with a cluster user name; ``membership``:
    the one the caller already read (an API call's token carries it), else it is looked up."""
    if (
        membership is None
        or (membership.user_id, membership.tenant_id) != (user.pk, tenant.pk)
        or not tenant.active
    ):
        membership = Membership.objects.filter(
            user=user, tenant=tenant, tenant__active=True
        ).first()
    if membership is None:
        raise ParkError("not_a_member", _("You are not a member of this tenant."), field="tenant")
    if not membership.cluster_username:
        raise ParkError(
            "no_cluster_identity",
            _(
                "You have no identity on the compute cluster yet; ask your tenant manager "
                "or the park operator to set your cluster user name."
            ),
            field="user",
        )
    return membership


def pool_target(pool: ResourcePool) -> tuple[str, str | None]:
    """The partition and GPU model shared by a pool's GPU nodes."""
    nodes = [
        r.gpu
        for r in pool.members.filter(kind=ResourceKind.GPU_NODE, active=True).select_related("gpu")
        if hasattr(r, "gpu")
    ]
    if pool.kind != ResourceKind.GPU_NODE or not nodes:
        raise ParkError("pool_not_gpu", _("The pool has no GPU nodes."), field="pool")
    partitions = {n.slurm_partition for n in nodes}
    if len(partitions) != 1:
        raise ParkError(
            "pool_spans_partitions",
            _("Its nodes are in several partitions; name the partition."),
            field="pool",
        )
    models = {n.gpu_model.lower() for n in nodes}
    return partitions.pop(), models.pop() if len(models) == 1 else None


def job_marker(job: ComputeJob) -> str:
    """What identifies our job in Slurm's comment: the row id plus its creation instant, so a
    recreated database (ids from 1 again) never mistakes an old Slurm job for its own."""
    return f"park-booking:{job.pk}:{int(job.created_at.timestamp() * 1_000_000)}"


def job_output_path(job: ComputeJob) -> str | None:
    """Where the job's standard output goes (known once Slurm gave it an id)."""
    if job.slurm_job_id is None:
        return None
    return f"{job_workdir()}/{job.slurm_name}-{job.slurm_job_id}.out"


def job_workdir() -> str:
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
        _, gpu_type = pool_target(job.pool)
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
        working_directory=job_workdir(),
        environment={
            "PATH": "/usr/local/bin:/usr/bin:/bin",
            "PARK_JOB_ID": str(job.pk),
            "PARK_TENANT": job.tenant.slug,
        },
        begin_time=begin,
        nodelist=nodelist,
        reservation=reservation,
        standard_output=f"{job_workdir()}/{job.slurm_name}-%j.out",
    )


def jobs_of_cluster(cluster: Cluster):
    """The jobs of ``cluster`` (the default one also has the jobs stored before clusters)."""
    if cluster.is_default:
        return ComputeJob.objects.filter(Q(cluster=cluster) | Q(cluster__isnull=True))
    return ComputeJob.objects.filter(cluster=cluster)
