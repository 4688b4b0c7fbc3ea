"""A member follows compute jobs in a real browser: the nav leads to the jobs list, a live job's
row changes state by itself (htmx polling) when the worker records Slurm's news, the job's page
shows its output, and Cancel (after the confirm dialog) cancels a job that never reached Slurm."""

from __future__ import annotations

import pytest
from django.utils import timezone

from booking.compute.models import ComputeJob, JobState
from tests.browser.test_booking_flow import sign_in

pytestmark = [
    pytest.mark.browser,
    pytest.mark.slow,
    pytest.mark.django_db(transaction=True),
]


def test_member_follows_and_cancels_jobs(page, live_server, park, shot, settings, tmp_path):
    settings.SLURM_JOB_WORKDIR = str(tmp_path)
    base = live_server.url
    running = ComputeJob.objects.create(
        tenant=park.acme,
        user=park.alice,
        name="fine-tune",
        script="#!/bin/bash\ntrain.py\n",
        partition="gpu",
        gpus=2,
        time_limit_minutes=120,
        state=JobState.RUNNING,
        slurm_job_id=8101,
        submitted_at=timezone.now(),
        started_at=timezone.now(),
    )
    (tmp_path / f"{running.slurm_name}-8101.out").write_text("epoch 1/3 loss=0.91\n")
    queued = ComputeJob.objects.create(
        tenant=park.acme,
        user=park.alice,
        name="sweep",
        script="#!/bin/bash\nsweep.py\n",
        partition="gpu",
        gpus=1,
        time_limit_minutes=30,
    )

    sign_in(page, base, "alice", "pw-alice", "en")
    page.click("header nav >> text=Compute jobs")
    row = page.locator(f"#job-{running.pk}")
    assert row.locator(".status").inner_text() == "Running"
    shot(page, "jobs-list")

    # The worker records that Slurm finished the job; the open page shows it without a reload.
    ComputeJob.objects.filter(pk=running.pk).update(
        state=JobState.COMPLETED, ended_at=timezone.now(), exit_code=0
    )
    row.locator(".status", has_text="Completed").wait_for(timeout=12_000)

    page.click(f"#job-{running.pk} >> text=fine-tune")
    assert "epoch 1/3 loss=0.91" in page.locator("pre.job-output").inner_text()
    assert page.locator("text=Cancel this job").count() == 0
    shot(page, "job-detail")

    page.goto(f"{base}/jobs/{queued.pk}/")
    page.once("dialog", lambda dialog: dialog.accept())
    with page.expect_navigation():
        page.click("text=Cancel this job")
    assert "Cancelled: sweep." in page.locator(".messages").inner_text()
    assert page.locator("h1 .status").inner_text() == "Cancelled"
    queued.refresh_from_db()
    assert queued.state == JobState.CANCELLED
