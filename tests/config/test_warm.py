"""A server worker warms up before its first request; a dependency that is down never stops it."""

from __future__ import annotations

import logging

import pytest
from django.db import connection

from config import warm

pytestmark = pytest.mark.django_db


def test_a_worker_opens_its_connections_and_builds_the_slurm_snapshot(monkeypatch):
    built = []
    monkeypatch.setattr(warm, "_warm_slurm", lambda: built.append(True))
    connection.close()
    assert warm.warm_worker() >= 0
    assert connection.connection is not None
    assert built == [True]


def test_a_dependency_down_is_logged_and_the_rest_still_warms(monkeypatch, caplog):
    def slurm_down():
        raise ConnectionError("slurmrestd refused the connection")

    monkeypatch.setattr(warm, "_warm_slurm", slurm_down)

    class DownCache:
        def get(self, key):
            raise ConnectionError("Redis is down")

    monkeypatch.setattr("django.core.cache.cache", DownCache())
    connection.close()
    with caplog.at_level(logging.INFO, logger="config.warm"):
        warm.warm_worker()
    assert connection.connection is not None
    assert "cache not ready" in caplog.text and "slurm not ready" in caplog.text
