"""Crashes on the real dev cluster, with every job exactly once: ``kill -9`` of slurmctld right
after a batch of submissions (Slurm loses the last ones and gives their ids to later jobs), and
``kill -9`` of slurmrestd mid-batch. Afterwards every park job ran exactly once in Slurm (one
accounting record with its marker), none adopted another's record, none stuck, and each job's
GPU-hours equal accounting's."""

from __future__ import annotations

import datetime as dt
import os
import signal
import subprocess
import threading
import time
from decimal import Decimal
from pathlib import Path

import pytest
from django.utils import timezone

from booking.compute import following as following_module
from booking.compute.following import jobs_follow
from booking.compute.models import ComputeJob, JobState
from booking.compute.sending import job_send, jobs_send_due
from booking.compute.slurm import job_marker
from booking.compute.slurm_state import wanted_state
from resources.slurm import SlurmClient, SlurmConfig, config_from_env
from resources.slurm.agent_client import AgentClient, AgentConfig
from resources.slurm_park import plan
from tests.slurm import test_job_flow
from tests.slurm.test_job_flow import submit

cluster = test_job_flow.cluster  # the fixture: the test park wired to the dev cluster

pytestmark = [
    pytest.mark.slurm,
    pytest.mark.slow,
    pytest.mark.django_db,
    pytest.mark.skipif(os.geteuid() != 0, reason="killing and restarting daemons needs root"),
]

REPO = Path(__file__).resolve().parents[2]
SCRIPT = REPO / "scripts" / "slurm-dev-cluster"


def state_dir(slurm_env) -> Path:
    return Path(slurm_env["SLURM_CONF"]).parents[1]


def script(slurm_env, *args: str) -> None:
    env = {k: v for k, v in os.environ.items() if k != "SLURM_JWT"}
    env["SLURM_DEV_DIR"] = str(state_dir(slurm_env))
    subprocess.run([str(SCRIPT), *args], check=True, capture_output=True, env=env, timeout=120)


def kill9(slurm_env, daemon: str) -> None:
    pid = int((state_dir(slurm_env) / "run" / f"{daemon}.pid").read_text())
    os.kill(pid, signal.SIGKILL)
    for _ in range(50):
        if not Path(f"/proc/{pid}").exists():
            return
        time.sleep(0.1)


def cancel_every_job(slurm_env, timeout: float = 60) -> None:
    env = {k: v for k, v in os.environ.items() if k != "SLURM_JWT"}
    env["SLURM_CONF"] = slurm_env["SLURM_CONF"]
    deadline = time.monotonic() + timeout
    while live := subprocess.run(
        ["squeue", "-h", "-o", "%i"], env=env, capture_output=True, text=True, timeout=30
    ).stdout.split():
        assert time.monotonic() < deadline, f"jobs still live on the dev cluster: {live}"
        subprocess.run(["scancel", "--quiet", *live], env=env, capture_output=True, timeout=30)
        time.sleep(0.5)


def resume_nodes(slurm_env) -> None:
    # After a controller crash a node may come back drained ("Duplicate jobid").
    env = {k: v for k, v in os.environ.items() if k != "SLURM_JWT"}
    env["SLURM_CONF"] = slurm_env["SLURM_CONF"]
    subprocess.run(
        ["scontrol", "update", "nodename=gpu[01-04],cpu[01-02]", "state=resume"],
        capture_output=True,
        env=env,
        timeout=30,
    )


def fragile_client(slurm_env) -> SlurmClient:
    base = config_from_env(slurm_env)
    return SlurmClient(
        SlurmConfig(
            base_url=base.base_url,
            user=base.user,
            jwt_key_file=base.jwt_key_file,
            cluster=base.cluster,
            retries=0,
            timeout=5,
        )
    )


def drive_until_all_ended(jobs, *, client, timeout: float = 240, resume=None) -> None:
    """The worker's work, as its sweep and follower do it, until no job is live (``resume``:
    the operator's resuming of nodes a controller crash drained, each round)."""
    deadline = time.monotonic() + timeout
    ids = [j.pk for j in jobs]
    while ComputeJob.objects.filter(
        pk__in=ids, state__in=[JobState.QUEUED, JobState.PENDING, JobState.RUNNING]
    ).exists():
        assert time.monotonic() < deadline, "jobs stuck: " + ", ".join(
            f"{j.pk}:{j.state}:{j.last_error[:60]}"
            for j in ComputeJob.objects.filter(pk__in=ids).exclude(
                state__in=[JobState.COMPLETED, JobState.FAILED, JobState.CANCELLED]
            )
        )
        ComputeJob.objects.filter(pk__in=ids, state=JobState.QUEUED).update(next_attempt_at=None)
        if resume:
            resume()
        try:
            jobs_send_due(client=client)
            jobs_follow(client=client)
        except Exception as error:  # Slurm coming back: the worker logs and tries again
            print("tick:", error)
        time.sleep(1)


def assert_each_exactly_once(jobs, slurm) -> None:
    seen_ids = set()
    for job in jobs:
        job.refresh_from_db()
        assert job.state == JobState.COMPLETED, (job.pk, job.state, job.reason, job.last_error)
        assert job.slurm_job_id not in seen_ids, f"two park jobs on Slurm job {job.slurm_job_id}"
        seen_ids.add(job.slurm_job_id)
        records = [
            r
            for r in slurm.accounting_jobs(name=job.slurm_name)
            if r.comment == job_marker(job) and r.start_time is not None
        ]
        # One Slurm job (a job requeued after a failed launch keeps its id and has a record
        # per attempt); its last attempt is the one that ran to the end.
        assert {r.job_id for r in records} == {job.slurm_job_id}, (
            f"job {job.pk}: Slurm ran {[r.job_id for r in records]}, park has {job.slurm_job_id}"
        )
        final = [r for r in records if r.state.value == "COMPLETED"]
        assert len(final) == 1, f"job {job.pk} completed {len(final)} times in Slurm"
        expected = Decimal(str(final[0].gpu_hours)).quantize(Decimal("0.0001"))
        assert job.gpu_hours == expected


def wait_for_accounting(jobs, slurm, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    for job in jobs:
        job.refresh_from_db()
        while not any(
            r.job_id == job.slurm_job_id and r.end_time
            for r in slurm.accounting_jobs(name=job.slurm_name)
        ):
            assert time.monotonic() < deadline, f"job {job.pk} not in accounting"
            time.sleep(0.5)


def test_slurmctld_kill_9_after_a_batch(
    cluster, slurm_env, slurm, slurm_accounting, monkeypatch, settings
):
    if not slurm_accounting:
        pytest.skip("needs slurmdbd")
    park = cluster
    # Jobs Slurm holds after a failed launch are released through the park agent.
    settings.SLURM_AGENT_URL = slurm_env["SLURM_AGENT_URL"]
    settings.SLURM_AGENT_KEY_FILE = slurm_env["SLURM_AGENT_KEY_FILE"]
    # Lost jobs are noticed sooner than in production (2 minutes).
    monkeypatch.setattr(following_module, "VANISHED_GRACE", dt.timedelta(seconds=8))
    client = fragile_client(slurm_env)
    # Jobs earlier tests left live on the shared dev cluster would be lost by the crash too, as
    # runaway jobs that are not this test's (the sync then rightly closes none): none are left.
    cancel_every_job(slurm_env)
    gpus = 1
    jobs = [
        submit(park, name=f"crash-{i}", gpus=gpus, partition="gpu", memory_mb=64,
               script="#!/bin/sh\nsleep 2\n")
        for i in range(30)
    ]  # fmt: skip
    for job in jobs[:20]:
        job_send(job_id=job.pk, client=client)
    kill9(slurm_env, "slurmctld")
    script(slurm_env, "restart", "slurmctld")
    resume_nodes(slurm_env)
    # After the restart the rest are sent: their ids may be ones Slurm gave the lost jobs.
    for job in jobs[20:]:
        job_send(job_id=job.pk, client=client)
    drive_until_all_ended(jobs, client=client, resume=lambda: resume_nodes(slurm_env))
    wait_for_accounting(jobs, slurm)
    assert_each_exactly_once(jobs, slurm)
    # Jobs the crash lost stay "pending" in slurmdbd (runaway jobs) and would keep their
    # associations from being removed: the park's sync reports them and closes them, as they
    # are all the park's (named park-<id>, in its tenants' accounts).
    agent = AgentClient(
        AgentConfig(url=slurm_env["SLURM_AGENT_URL"], key_file=slurm_env["SLURM_AGENT_KEY_FILE"])
    )
    wanted = wanted_state(cluster=slurm_env["SLURM_CLUSTER"])
    runaway = [
        s for s in plan(wanted, client=client, agent=agent, now=timezone.now())
        if s.section == "runaway jobs"
    ]  # fmt: skip
    lost = park_runaway_ids(slurm_env)
    if lost:
        assert len(runaway) == 1, runaway
        assert runaway[0].text.startswith(",".join(map(str, lost))) or "not the park's" in (
            runaway[0].text
        ), runaway[0].text
    if runaway and runaway[0].fix is not None:
        runaway[0].fix()
    after = [
        s for s in plan(wanted, client=client, agent=agent, now=timezone.now())
        if s.section == "runaway jobs"
    ]  # fmt: skip
    if after:
        # slurmdbd may record a job the crash lost under another name ("allocation"): the sync
        # cannot tell it is the park's, so it reports it, closes none and leaves them to the
        # cluster's operator, who closes them here.
        assert after[0].fix is None and "not the park's" in after[0].text, after
        close_runaway(slurm_env)
    assert park_runaway_ids(slurm_env) == []
    agent.close()
    client.close()


def close_runaway(slurm_env) -> None:
    env = {k: v for k, v in os.environ.items() if k != "SLURM_JWT"}
    env["SLURM_CONF"] = slurm_env["SLURM_CONF"]
    subprocess.run(
        ["sacctmgr", "-i", "show", "runawayjobs"], env=env, capture_output=True, timeout=60
    )


def park_runaway_ids(slurm_env) -> list[int]:
    """The park's jobs that sacctmgr lists as runaway (answered "n": listed, never closed)."""
    env = {k: v for k, v in os.environ.items() if k != "SLURM_JWT"}
    env["SLURM_CONF"] = slurm_env["SLURM_CONF"]
    listed = subprocess.run(
        ["sacctmgr", "-n", "-P", "show", "runawayjobs", "format=ID,Name"],
        env=env, capture_output=True, text=True, timeout=60, input="n\n",
    ).stdout  # fmt: skip
    return sorted(int(line.split("|")[0]) for line in listed.splitlines() if "|park-" in line)


def test_slurmrestd_kill_9_mid_batch(cluster, slurm_env, slurm, slurm_accounting):
    if not slurm_accounting:
        pytest.skip("needs slurmdbd")
    park = cluster
    client = fragile_client(slurm_env)
    jobs = [
        submit(park, name=f"rest-{i}", gpus=0, partition="cpu", memory_mb=64,
               script="#!/bin/sh\ntrue\n")
        for i in range(40)
    ]  # fmt: skip
    restarted = threading.Event()

    def crash():
        kill9(slurm_env, "slurmrestd")
        script(slurm_env, "restart", "slurmrestd")
        restarted.set()

    outcomes = []
    for i, job in enumerate(jobs):
        if i == 10:
            threading.Thread(target=crash).start()
        sent = job_send(job_id=job.pk, client=client)
        outcomes.append(sent.state if sent else None)
        time.sleep(0.02)
    assert restarted.wait(60)
    assert JobState.QUEUED in outcomes, "the crash did not interrupt any submission"
    drive_until_all_ended(jobs, client=client)
    wait_for_accounting(jobs, slurm)
    assert_each_exactly_once(jobs, slurm)
    client.close()


def test_the_end_reaches_the_park_promptly(cluster, slurm_env, slurm, settings):
    """A job's end is recorded within 10 s (p95) by the follower's short cadence."""
    from booking.compute.tasks import jobs_follow_loop

    park = cluster
    settings.SLURM_FOLLOW_INTERVAL = 2.0
    jobs = [
        submit(park, name=f"prompt-{i}", gpus=0, partition="cpu", memory_mb=64,
               script="#!/bin/sh\nsleep 1\n")
        for i in range(10)
    ]  # fmt: skip
    for job in jobs:
        job_send(job_id=job.pk)
    jobs_follow_loop(25)  # the worker's periodic follower, for 25 s
    delays = []
    for job in jobs:
        job.refresh_from_db()
        assert job.state == JobState.COMPLETED, job.state
        delays.append((job.updated_at - job.ended_at).total_seconds())
    delays.sort()
    p95 = delays[int(0.95 * (len(delays) - 1))]
    print(f"end → park delay: p50 {delays[len(delays) // 2]:.1f} s, p95 {p95:.1f} s")
    assert p95 < 10
