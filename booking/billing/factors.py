"""What a GPU-hour costs on each cluster (a factor on the rate card's price) and which cluster a
pool's jobs run on, for pricing jobs."""

from __future__ import annotations

from decimal import Decimal

from django.conf import settings

from booking.billing.models import ClusterFactor
from resources.clusters import Cluster
from resources.models import ResourcePool


def cluster_factors() -> dict[str, Decimal]:
    factors = dict(getattr(settings, "BILLING_CLUSTER_FACTORS", {}) or {})
    factors = {k: Decimal(str(v)) for k, v in factors.items()}
    # The cluster registry's GPU-hour rate factor, under its name and its Slurm name; a
    # billing ClusterFactor row for the same name (the finance team's own) takes precedence.
    for cluster in Cluster.objects.all():
        factors[cluster.name] = cluster.gpu_rate_factor
        factors[cluster.slurm_cluster_name] = cluster.gpu_rate_factor
    factors.update(ClusterFactor.objects.values_list("cluster", "factor"))
    return factors


def pool_clusters() -> dict[int, str]:
    out: dict[int, str] = {}
    for pool_id, cluster in ResourcePool.members.through.objects.filter(
        resource__gpu__isnull=False
    ).values_list("resourcepool_id", "resource__gpu__slurm_cluster"):
        out.setdefault(pool_id, cluster)
    return out
