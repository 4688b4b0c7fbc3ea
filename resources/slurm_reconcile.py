"""One park → Slurm reconciliation run: nodes and partitions (catalogue), accounts, associations,
limits and reservations (resources.slurm_park), stored as the current drift report."""

from __future__ import annotations

import logging

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.utils import timezone
from django.utils.module_loading import import_string

from resources.clusters import Cluster, ClusterState, clusters
from resources.models import SlurmSyncReport
from resources.slurm import SlurmClient, SlurmError, client_from_settings
from resources.slurm.agent_client import AgentClient, AgentConfig, agent_from_settings
from resources.slurm_park import SyncResult, reconcile
from resources.slurm_sync import slurm_nodes_sync

log = logging.getLogger(__name__)

LOCK = "slurm-sync"


class SyncBusy(Exception):
    """Another reconciliation holds the lock."""


def slurm_sync_run(
    *, apply: bool, trigger: str = "", store: bool = True, cluster: str | None = None
) -> SyncResult:
    """Compare the park with Slurm and (with ``apply``) reconcile, cluster by cluster (every
    registered cluster not marked down, or only ``cluster``); one run at a time (a lease
    lock, so a killed run does not block the next); the report is stored unless ``store`` is
    False. Raises SyncBusy when another run holds the lock. One cluster that cannot be reached
    is an error of the report; the others are still reconciled."""
    # The lock is the park's lease (booking.leases), named by a setting: resources sits below
    # the booking apps and does not import them.
    lease = import_string(
        getattr(settings, "SLURM_SYNC_LEASE", "booking.compute.slurm_state.sync_lease")
    )
    with lease(LOCK, seconds=300) as held:
        if held is None:
            raise SyncBusy(LOCK)
        result = _run_all(apply=apply, only=cluster)
    if store:
        SlurmSyncReport.objects.create(
            applied=apply,
            in_step=result.in_step,
            drift_count=result.drift_count,
            error_count=len(result.errors),
            trigger=trigger[:60],
            report=result.as_dict(),
            text=result.as_text(),
        )
        keep = getattr(settings, "SLURM_SYNC_REPORTS_KEPT", 200)
        old = SlurmSyncReport.objects.order_by("-created_at").values_list("pk", flat=True)[keep:]
        SlurmSyncReport.objects.filter(pk__in=list(old)).delete()
    return result


def _run_all(*, apply: bool, only: str | None) -> SyncResult:
    result = SyncResult(applied=apply)
    for cluster in clusters():
        if only and cluster.name != only:
            continue
        if cluster.state == ClusterState.DOWN and not only:
            result.info.append(f"cluster {cluster.name}: down, not synced")
            continue
        if cluster.is_default and not cluster.rest_url:
            if (
                not getattr(settings, "SLURM_REST_URL", None)
                and only is None
                and len(clusters()) > 1
            ):
                continue  # no default cluster on this server, only registered ones
            part = _run(apply=apply, cluster=cluster)
            prefix = ""
        else:
            try:
                part = _run(apply=apply, cluster=cluster)
            except ImproperlyConfigured as error:
                result.errors.append(f"cluster {cluster.name}: {error}")
                continue
            prefix = f"[{cluster.name}] "
        _merge(result, part, prefix=prefix)
    return result


def _merge(into: SyncResult, part: SyncResult, *, prefix: str) -> None:
    into.info.extend(prefix + line for line in part.info)
    into.errors.extend(prefix + line for line in part.errors)
    for section, lines in part.drift.items():
        into.drift.setdefault(section, []).extend(prefix + line for line in lines)
    for section, lines in part.done.items():
        into.done.setdefault(section, []).extend(prefix + line for line in lines)


def _clients(cluster: Cluster) -> tuple[SlurmClient, AgentClient | None]:
    if cluster.is_default and not cluster.rest_url:
        return client_from_settings(), agent_from_settings()
    agent = cluster.agent_settings()
    return (
        SlurmClient(cluster.slurm_config()),
        AgentClient(AgentConfig(url=agent[0], key_file=agent[1])) if agent else None,
    )


def _run(*, apply: bool, cluster: Cluster) -> SyncResult:
    result = SyncResult(applied=apply)
    provider = import_string(
        getattr(settings, "SLURM_WANTED_STATE", "booking.compute.slurm_state.wanted_state")
    )
    slurm_client, agent = _clients(cluster)
    try:
        with slurm_client as client:
            try:
                nodes = slurm_nodes_sync(client=client, cluster=cluster.name, apply=apply)
            except SlurmError as error:
                result.errors.append(f"nodes: {error}")
            else:
                result.info.extend(f"partition {p}" for p in nodes.partitions)
                result.drift["nodes"].extend(nodes.drift + nodes.missing_in_slurm)
                result.done["nodes"].extend(nodes.created + nodes.updated)
                result.info.extend(f"unavailable: {u}" for u in nodes.unavailable)
            reconcile(
                provider(now=timezone.now(), cluster=cluster.name),
                client=client,
                agent=agent,
                apply=apply,
                result=result,
            )
    finally:
        if agent is not None:
            agent.close()
    return result
