"""Which cluster a job runs on.

The rule, in order:

1. The candidates: a job in a booking runs on the cluster of the booked node; a job in a pool on
   the clusters of the pool's GPU nodes; a job naming only a partition on every cluster.
2. A named ``cluster`` must be a candidate, one the tenant may use (its data policy's allowed
   clusters), taking jobs (state ``up``) and allowed for the job's data class
   (``booking.compute.residency``) — else the job is refused, naming why (``data_residency``
   for the data class).
3. Unnamed, the candidates the tenant may use, that take jobs and that the data class may go to
   are ranked: ``primary`` clusters first (by routing order); an ``overflow`` cluster (the GBA
   hub) takes the job only when the first primary candidate already has at least the overflow
   cluster's ``overflow_queue_depth`` park jobs waiting (queued or pending) in the job's
   partition and the overflow cluster has fewer; an ``on_request`` cluster only when named (or
   when it is the only candidate a booking or pool points at).
4. No candidate left: ``data_residency`` when the data class ruled them out, else
   ``no_cluster_available`` (503: none is taking jobs now).
"""

from __future__ import annotations

from django.utils.translation import gettext as _

from booking.bookings.models import Booking
from booking.compute.models import JobState
from booking.compute.residency import (
    UNREAD,
    DataClass,
    allowed_cluster_names,
    check_residency,
    default_data_class,
    may_run,
    policy_of,
)
from booking.compute.slurm import jobs_of_cluster
from booking.errors import ParkError
from booking.tenancy.models import Tenant
from resources.clusters import Cluster, ClusterUsage, cluster_named, clusters, default_cluster
from resources.models import ResourceKind, ResourcePool


def job_data_class(*, tenant: Tenant, data_class: str | None, policy=UNREAD) -> str:
    data_class = data_class or default_data_class(tenant, policy=policy)
    if data_class not in DataClass.values:
        raise ParkError(
            "unknown_data_class",
            _("One of %(classes)s.") % {"classes": ", ".join(DataClass.values)},
            field="data_class",
            status=422,
        )
    return data_class


def _candidates(
    *, pool: ResourcePool | None, booking: Booking | None
) -> tuple[list[Cluster], bool]:
    """The clusters the job could run on, and whether a booking or pool implied them."""
    names: set[str] = set()
    if booking is not None and booking.resource is not None:
        node = getattr(booking.resource, "gpu", None)
        if node is not None:
            names.add(node.slurm_cluster)
    elif pool is not None:
        names.update(
            pool.members.filter(kind=ResourceKind.GPU_NODE, active=True).values_list(
                "gpu__slurm_cluster", flat=True
            )
        )
    if not names:
        return clusters(), False
    found = [c for c in (cluster_named(n) for n in sorted(n for n in names if n)) if c]
    return sorted(found or [default_cluster()], key=lambda c: (c.priority, c.name)), True


def waiting_jobs(cluster: Cluster, partition: str) -> int:
    """Park jobs waiting on ``cluster`` in ``partition`` (queued or pending)."""
    return (
        jobs_of_cluster(cluster)
        .filter(partition=partition, state__in=[JobState.QUEUED, JobState.PENDING])
        .count()
    )


def job_route(
    *,
    tenant: Tenant,
    data_class: str,
    cluster_name: str | None,
    partition: str,
    pool: ResourcePool | None = None,
    booking: Booking | None = None,
    policy=UNREAD,
) -> Cluster:
    """The cluster the job runs on (see the module's rule); raises ``ParkError`` with the reason.
    ``policy``: the tenant's data policy if the caller read it already."""
    policy = policy_of(tenant) if policy is UNREAD else policy
    candidates, implied = _candidates(pool=pool, booking=booking)
    allowed = allowed_cluster_names(tenant, policy=policy)
    if cluster_name:
        cluster = next((c for c in candidates if c.name == cluster_name), None)
        if cluster is None:
            if cluster_named(cluster_name) is None:
                raise ParkError(
                    "unknown_cluster",
                    _("No such cluster."),
                    field="cluster",
                    status=422,
                )
            raise ParkError(
                "cluster_mismatch",
                _("The booking or pool runs on %(names)s, not on %(name)s.")
                % {"names": ", ".join(c.name for c in candidates), "name": cluster_name},
                field="cluster",
                status=422,
            )
        if allowed is not None and cluster.name not in allowed:
            raise ParkError(
                "cluster_not_allowed",
                _("%(tenant)s may not use cluster %(name)s.")
                % {"tenant": tenant.name, "name": cluster.name},
                field="cluster",
                status=403,
            )
        check_residency(tenant=tenant, data_class=data_class, cluster=cluster, policy=policy)
        _check_taking_jobs(cluster)
        return cluster
    usable = [c for c in candidates if allowed is None or c.name in allowed]
    resident = [
        c for c in usable if may_run(tenant=tenant, data_class=data_class, cluster=c, policy=policy)
    ]
    if usable and not resident:
        check_residency(tenant=tenant, data_class=data_class, cluster=usable[0], policy=policy)
    up = [c for c in resident if c.takes_jobs]
    if implied and len(up) == 1:
        return up[0]
    primaries = [c for c in up if c.usage == ClusterUsage.PRIMARY]
    overflows = [c for c in up if c.usage == ClusterUsage.OVERFLOW]
    if primaries:
        first = primaries[0]
        if overflows:
            depth = waiting_jobs(first, partition)
            for hub in overflows:
                if depth >= hub.overflow_queue_depth and waiting_jobs(hub, partition) < depth:
                    return hub
        return first
    if overflows:
        return overflows[0]
    if resident and not up:
        _check_taking_jobs(resident[0])
    raise ParkError(
        "no_cluster_available",
        _("No cluster takes this job now; name one or try again later."),
        field="cluster",
        status=503,
    )


def _check_taking_jobs(cluster: Cluster) -> None:
    if not cluster.takes_jobs:
        raise ParkError(
            "cluster_not_taking_jobs",
            _("Cluster %(name)s takes no new jobs now (%(state)s).")
            % {"name": cluster.name, "state": cluster.get_state_display()},
            field="cluster",
            status=409,
        )
