"""One park → Slurm reconciliation run: nodes and partitions (catalogue), accounts, associations,
limits and reservations (resources.slurm_park), stored as the current drift report."""

from __future__ import annotations

import logging

from django.conf import settings
from django.utils import timezone
from django.utils.module_loading import import_string

from resources.models import SlurmSyncReport
from resources.slurm import SlurmError, client_from_settings
from resources.slurm.agent_client import agent_from_settings
from resources.slurm_park import SyncResult, reconcile
from resources.slurm_sync import slurm_nodes_sync

log = logging.getLogger(__name__)

LOCK = "slurm-sync"


class SyncBusy(Exception):
    """Another reconciliation holds the lock."""


def slurm_sync_run(*, apply: bool, trigger: str = "", store: bool = True) -> SyncResult:
    """Compare the park with Slurm and (with ``apply``) reconcile; one run at a time (a lease
    lock, so a killed run does not block the next); the report is stored unless ``store`` is
    False. Raises SyncBusy when another run holds the lock."""
    # The lock is the park's lease (booking.leases), named by a setting: resources sits below
    # the booking apps and does not import them.
    lease = import_string(
        getattr(settings, "SLURM_SYNC_LEASE", "booking.compute.slurm_state.sync_lease")
    )
    with lease(LOCK, seconds=300) as held:
        if held is None:
            raise SyncBusy(LOCK)
        result = _run(apply=apply)
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


def _run(*, apply: bool) -> SyncResult:
    result = SyncResult(applied=apply)
    cluster = getattr(settings, "SLURM_CLUSTER", "") or ""
    provider = import_string(
        getattr(settings, "SLURM_WANTED_STATE", "booking.compute.slurm_state.wanted_state")
    )
    agent = agent_from_settings()
    try:
        with client_from_settings() as client:
            try:
                nodes = slurm_nodes_sync(client=client, cluster=cluster, apply=apply)
            except SlurmError as error:
                result.errors.append(f"nodes: {error}")
            else:
                result.info.extend(f"partition {p}" for p in nodes.partitions)
                result.drift["nodes"].extend(nodes.drift + nodes.missing_in_slurm)
                result.done["nodes"].extend(nodes.created + nodes.updated)
                result.info.extend(f"unavailable: {u}" for u in nodes.unavailable)
            reconcile(
                provider(now=timezone.now()),
                client=client,
                agent=agent,
                apply=apply,
                result=result,
            )
    finally:
        if agent is not None:
            agent.close()
    return result
