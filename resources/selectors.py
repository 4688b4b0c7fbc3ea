"""Reads from the catalogue."""

from __future__ import annotations

import datetime as dt

from resources.models import Resource, TrainingRecord


def training_valid(*, user, resource: Resource, on: dt.date) -> bool:
    """True when the resource needs no training or ``user`` holds a valid one on ``on``."""
    if resource.required_training_id is None:
        return True
    return TrainingRecord.objects.filter(
        user=user, training_id=resource.required_training_id, granted_on__lte=on, expires_on__gt=on
    ).exists()
