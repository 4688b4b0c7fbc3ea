"""Changes that matter to Slurm enqueue a reconciliation (resources.tasks.slurm_sync_task):
membership (joined, left, cluster user name), tenant (weight, active), quota and booking
(confirmed, moved, cancelled). Sent after the transaction commits; the queue being down is
logged, never raised (the periodic reconciliation repairs what a lost trigger missed).
Off with SLURM_SYNC_ON_CHANGE=0 or when no cluster is configured."""

from __future__ import annotations

import logging

from django.conf import settings
from django.db import transaction
from django.db.models.signals import post_delete, post_save

from booking.bookings.models import Booking
from booking.tenancy.models import Membership, Quota, Tenant

logger = logging.getLogger(__name__)


def _wanted() -> bool:
    return bool(getattr(settings, "SLURM_SYNC_ON_CHANGE", True)) and bool(
        getattr(settings, "SLURM_REST_URL", None)
    )


def enqueue_slurm_sync(trigger: str) -> None:
    if not _wanted():
        return

    def send() -> None:
        from resources.tasks import slurm_sync_task

        try:
            slurm_sync_task(trigger)
        except Exception:
            logger.warning("could not enqueue a Slurm sync (%s)", trigger, exc_info=True)

    transaction.on_commit(send)


def _changed(sender, instance, **kwargs) -> None:
    if sender is Booking and instance.resource_id is None:
        return
    enqueue_slurm_sync(f"{sender._meta.model_name} {instance.pk}")


def connect() -> None:
    for model in (Membership, Tenant, Quota, Booking):
        post_save.connect(_changed, sender=model, dispatch_uid=f"slurm-sync-{model.__name__}")
        post_delete.connect(_changed, sender=model, dispatch_uid=f"slurm-sync-del-{model.__name__}")
