"""Reads from the catalogue."""

from __future__ import annotations

import datetime as dt

from django.conf import settings
from django.utils.translation import gettext as _

from resources.models import Resource, TrainingRecord


def training_valid(*, user, resource: Resource, on: dt.date) -> bool:
    """True when the resource needs no training or ``user`` holds a valid one on ``on``."""
    if resource.required_training_id is None:
        return True
    return TrainingRecord.objects.filter(
        user=user, training_id=resource.required_training_id, granted_on__lte=on, expires_on__gt=on
    ).exists()


def trainings_held(*, user, on: dt.date) -> set[int]:
    """Ids of the trainings ``user`` holds, valid on ``on`` (an empty set when signed out)."""
    if not getattr(user, "is_authenticated", False):
        return set()
    return set(
        TrainingRecord.objects.filter(user=user, granted_on__lte=on, expires_on__gt=on).values_list(
            "training_id", flat=True
        )
    )


def training_contact() -> str:
    """Whom a member asks for a training (``TRAINING_CONTACT``), or the park's operators."""
    return getattr(settings, "TRAINING_CONTACT", "") or _("the park's operators")
