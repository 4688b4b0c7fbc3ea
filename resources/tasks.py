"""Background reconciliation of the park with Slurm (resources/slurm_reconcile.py)."""

from __future__ import annotations

import logging

from django.conf import settings
from huey import crontab
from huey.contrib.djhuey import db_periodic_task, db_task

from resources.slurm import SlurmError
from resources.slurm_reconcile import SyncBusy, slurm_sync_run

logger = logging.getLogger(__name__)


def _configured() -> bool:
    return bool(getattr(settings, "SLURM_REST_URL", None))


@db_periodic_task(crontab(minute="*/5"), retries=0)
def slurm_sync_periodic_task() -> None:
    """Every five minutes: reconcile, so drift from hand edits or missed hooks is repaired."""
    if _configured():
        _sync("periodic")


@db_task(retries=2, retry_delay=10)
def slurm_sync_task(trigger: str = "change") -> None:
    """Enqueued by changes that matter (membership, cluster user name, quota, weight, booking)."""
    if _configured():
        _sync(trigger)


def _sync(trigger: str) -> None:
    try:
        result = slurm_sync_run(apply=True, trigger=trigger)
    except SyncBusy:
        # A run is under way; it reads the state after our change unless it already read it,
        # and the next periodic run catches that case.
        logger.info("slurm sync (%s): another run is in progress", trigger)
        return
    except SlurmError as error:
        logger.warning("slurm sync (%s): Slurm unreachable: %s", trigger, error)
        return
    if result.errors:
        logger.warning("slurm sync (%s): %s", trigger, "; ".join(result.errors))
