"""A real worker process killed with -9 while it holds the follower's lease: a plain restart
follows again (the lease lapses) and every job ends exactly once. Needs PostgreSQL: the worker
processes share the test database (the SQLite test database lives in this process only)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from django.db import connection

from booking.compute.models import ComputeJob, JobState
from booking.compute.sending import job_send
from booking.models import Lease
from tests.slurm import test_job_flow
from tests.slurm.test_job_flow import submit

cluster = test_job_flow.cluster

pytestmark = [pytest.mark.slurm, pytest.mark.slow, pytest.mark.postgres]

REPO = Path(__file__).resolve().parents[2]

WORKER = """
import time
from booking.compute.tasks import jobs_follow_loop
deadline = time.monotonic() + 150
while time.monotonic() < deadline:
    # as huey's once-a-minute tick would, but every 3 s
    if jobs_follow_loop(20) is None:
        time.sleep(3)
"""


def start_worker(slurm_env) -> subprocess.Popen:
    db = connection.settings_dict
    url = f"postgres://{db['USER']}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"
    env = {k: v for k, v in os.environ.items() if k != "SLURM_JWT"}
    env.update({k: v for k, v in slurm_env.items() if k.startswith("SLURM_") and v})
    env.update(DATABASE_URL=url, SLURM_FOLLOW_INTERVAL="1", LOG_LEVEL="WARNING")
    return subprocess.Popen(
        [sys.executable, str(REPO / "manage.py"), "shell", "-c", WORKER],
        cwd=REPO,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


@pytest.mark.django_db(transaction=True)
def test_worker_kill_9_then_a_plain_restart(cluster, slurm_env):
    park = cluster
    jobs = [
        submit(park, name=f"kill-{i}", gpus=0, partition="cpu", memory_mb=64,
               script="#!/bin/sh\nsleep 15\n")
        for i in range(3)
    ]  # fmt: skip
    for job in jobs:
        job_send(job_id=job.pk)  # (or already sent by its task when the queue runs inline)
    first = start_worker(slurm_env)
    second = None
    try:
        deadline = time.monotonic() + 60
        while not Lease.objects.filter(name="jobs-follow").exists():
            assert time.monotonic() < deadline, "the worker never took the follower's lease"
            time.sleep(0.5)
        held_by = Lease.objects.get(name="jobs-follow").holder
        first.send_signal(signal.SIGKILL)
        first.wait(timeout=10)
        # Its lease stays behind; a plain restart must still follow.
        assert Lease.objects.get(name="jobs-follow").holder == held_by
        second = start_worker(slurm_env)
        deadline = time.monotonic() + 120
        while ComputeJob.objects.filter(
            pk__in=[j.pk for j in jobs], state__in=[JobState.PENDING, JobState.RUNNING]
        ).exists():
            assert time.monotonic() < deadline, "jobs not followed after the restart"
            time.sleep(1)
        assert Lease.objects.get(name="jobs-follow").holder != held_by
        for job in jobs:
            job.refresh_from_db()
            assert job.state == JobState.COMPLETED, (job.state, job.reason)
            assert job.ended_at and job.started_at
    finally:
        for proc in (first, second):
            if proc is not None and proc.poll() is None:
                proc.send_signal(signal.SIGKILL)
                proc.wait(timeout=10)
