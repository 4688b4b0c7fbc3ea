"""The reconciliation tasks: nothing without a cluster; a run already under way (lease held) is
left alone; a failing Slurm is logged, not raised; the report is stored."""

from __future__ import annotations

import datetime as dt
import logging

import pytest
from django.utils import timezone

import resources.slurm_reconcile as reconcile_run
from booking.models import Lease
from resources import tasks
from resources.models import SlurmSyncReport
from resources.slurm import SlurmError
from resources.slurm_park import SyncResult

pytestmark = pytest.mark.django_db


def test_no_cluster_no_run(settings, monkeypatch):
    settings.SLURM_REST_URL = ""
    calls = []
    monkeypatch.setattr(tasks, "slurm_sync_run", lambda **kw: calls.append(kw))
    tasks.slurm_sync_task.call_local("test")
    assert calls == []


def test_a_run_stores_its_report_and_a_held_lease_is_respected(settings, monkeypatch, caplog):
    settings.SLURM_REST_URL = "http://127.0.0.1:9"
    result = SyncResult(applied=True)
    result.drift["limits"].append("acme: fair-share 1 → 1000")
    monkeypatch.setattr(reconcile_run, "_run", lambda *, apply, cluster: result)
    tasks.slurm_sync_task.call_local("membership 3")
    report = SlurmSyncReport.objects.get()
    assert report.applied and not report.in_step and report.drift_count == 1
    assert report.trigger == "membership 3" and "fair-share 1 → 1000" in report.text

    Lease.objects.create(
        name="slurm-sync", holder="other", expires_at=timezone.now() + dt.timedelta(minutes=1)
    )
    with caplog.at_level(logging.INFO):
        tasks.slurm_sync_task.call_local("quota 1")
    assert SlurmSyncReport.objects.count() == 1 and "in progress" in caplog.text


def test_slurm_unreachable_is_logged(settings, monkeypatch, caplog):
    settings.SLURM_REST_URL = "http://127.0.0.1:9"

    def down(**kwargs):
        raise SlurmError("cannot reach slurmrestd", transient=True)

    monkeypatch.setattr(tasks, "slurm_sync_run", down)
    with caplog.at_level(logging.WARNING):
        tasks.slurm_sync_periodic_task.call_local()
    assert "Slurm unreachable" in caplog.text
