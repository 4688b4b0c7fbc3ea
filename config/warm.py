"""Warming a freshly forked server worker before it answers (gunicorn's post_worker_init)."""

from __future__ import annotations

import logging
import time

logger = logging.getLogger(__name__)


def warm_worker() -> float:
    """Open this process's database and cache connections, and build the Slurm client of the
    default cluster with its partition snapshot. A part that fails (a dependency down) is
    logged and left to the first request that needs it: warming never stops a worker.
    Returns the seconds it took."""
    started = time.monotonic()
    from django.core.cache import cache
    from django.db import connection

    steps = (
        ("database", connection.ensure_connection),
        ("cache", lambda: cache.get("park:warm")),
        ("slurm", _warm_slurm),
    )
    for name, step in steps:
        try:
            step()
        except Exception as error:  # noqa: BLE001 - any failure: the first request tries again
            logger.info("worker warm-up: %s not ready (%s)", name, error)
    return time.monotonic() - started


def _warm_slurm() -> None:
    from booking.compute.slurm import warm_default_client

    warm_default_client()
