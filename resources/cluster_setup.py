"""Registering clusters from the environment the dev cluster script writes (var/slurm/env), and
the clusters of the demo park.

``SLURM_HUB_*`` lines describe the second cluster (the GBA hub). Only the *names* of the
variables holding its credentials are stored (``credentials_from``, ``agent_key_from``).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from decimal import Decimal

from resources.clusters import Cluster, ClusterUsage, Jurisdiction, default_cluster


def hub_from_env(environ: Mapping[str, str] | None = None) -> Cluster | None:
    """The GBA hub as the env describes it (created or updated), or None when it has none."""
    environ = os.environ if environ is None else environ
    name, url = environ.get("SLURM_HUB_NAME"), environ.get("SLURM_HUB_REST_URL")
    if not name or not url:
        return None
    cluster, _created = Cluster.objects.update_or_create(
        name=name,
        defaults={
            "slurm_name": environ.get("SLURM_HUB_CLUSTER", ""),
            "jurisdiction": Jurisdiction.MAINLAND,
            "usage": ClusterUsage.OVERFLOW,
            "rest_url": url,
            "api_version": environ.get("SLURM_API_VERSION") or "v0.0.38",
            "rest_user": environ.get("SLURM_USER", ""),
            "credentials_from": "SLURM_HUB_JWT_KEY_FILE",
            "agent_url": environ.get("SLURM_HUB_AGENT_URL", ""),
            "agent_key_from": "SLURM_HUB_AGENT_KEY_FILE"
            if environ.get("SLURM_HUB_AGENT_URL")
            else "",
        },
    )
    return cluster


def demo_clusters() -> tuple[Cluster, Cluster]:
    """The demo park's two clusters: its own in Hong Kong (the default, from the SLURM_*
    settings) and the GBA hub on the Mainland, used as overflow once four park jobs wait in a
    partition, its GPU-hours billed at 0.8."""
    park = default_cluster()
    # In development the dev cluster script's env names the hub's real endpoints.
    from_env = hub_from_env()
    if from_env is not None:
        Cluster.objects.filter(pk=from_env.pk).update(
            overflow_queue_depth=4, gpu_rate_factor=Decimal("0.800"), priority=20
        )
        from_env.refresh_from_db()
        return park, from_env
    hub, _created = Cluster.objects.get_or_create(
        name="gba-hub",
        defaults={
            "slurm_name": "gbahub",
            "jurisdiction": Jurisdiction.MAINLAND,
            "usage": ClusterUsage.OVERFLOW,
            "overflow_queue_depth": 4,
            "gpu_rate_factor": Decimal("0.800"),
            "credentials_from": "SLURM_HUB_JWT_KEY_FILE",
            "priority": 20,
        },
    )
    return park, hub
