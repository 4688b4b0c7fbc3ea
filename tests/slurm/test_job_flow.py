"""The compute-job flow against the real dev cluster: submit, follow, charge, cancel, refusals,
and a slurmrestd restart in the middle of a batch (every job submitted exactly once)."""

from __future__ import annotations

import datetime as dt
import os
import subprocess
import threading
import time
from decimal import Decimal
from pathlib import Path

import pytest
from django.utils import timezone

from booking.compute.cancelling import job_cancel_send, jobs_cancel_due
from booking.compute.following import jobs_follow
from booking.compute.models import ComputeJob, JobState
from booking.compute.selectors import job_output
from booking.compute.sending import job_find_in_slurm, job_send, jobs_send_due
from booking.compute.services import job_cancel, job_submit
from booking.compute.slurm import job_marker, job_spec
from booking.tenancy.models import Membership
from booking.tenancy.selectors import used_hours
from resources.models import ResourceKind
from resources.slurm import SlurmClient, SlurmConfig, config_from_env

pytestmark = [pytest.mark.slurm, pytest.mark.slow, pytest.mark.django_db]

REPO = Path(__file__).resolve().parents[2]
SCRIPT = REPO / "scripts" / "slurm-dev-cluster"


@pytest.fixture
def cluster(park, settings, slurm_env, slurm, slurm_accounting):
    """The test park wired to the dev cluster: alice (acme) is parkdev1, bob has no cluster user name, charlie (globex)
    parkdev2, and the tenants' Slurm accounts exist with those users."""
    settings.SLURM_REST_URL = slurm_env["SLURM_REST_URL"]
    settings.SLURM_API_VERSION = slurm_env.get("SLURM_API_VERSION", "v0.0.38")
    settings.SLURM_USER = slurm_env["SLURM_USER"]
    settings.SLURM_JWT_KEY_FILE = slurm_env.get("SLURM_JWT_KEY_FILE", "")
    settings.SLURM_TOKEN = slurm_env.get("SLURM_TOKEN", "")
    settings.SLURM_CLUSTER = slurm_env.get("SLURM_CLUSTER", "")
    settings.SLURM_JOB_WORKDIR = slurm_env.get("SLURM_WORKDIR") or "/tmp"
    users = (slurm_env.get("SLURM_DEV_EXTRA_USERS") or "parkdev1,parkdev2").split(",")
    Membership.objects.filter(user=park.alice).update(cluster_username=users[0])
    Membership.objects.filter(user=park.bob).update(cluster_username="")
    Membership.objects.filter(user=park.charlie).update(cluster_username=users[-1])
    if slurm_accounting:
        slurm.ensure_account(park.acme.slurm_account, users=[users[0]])
        slurm.ensure_account(park.globex.slurm_account, users=[users[-1]])
    return park


def follow_until_ended(job: ComputeJob, *, timeout: float = 60) -> ComputeJob:
    deadline = time.monotonic() + timeout
    while True:
        jobs_follow()
        job.refresh_from_db()
        if job.state not in (JobState.QUEUED, JobState.PENDING, JobState.RUNNING):
            return job
        if time.monotonic() > deadline:
            pytest.fail(f"job {job.pk} still {job.state} after {timeout}s")
        time.sleep(0.3)


def submit(park, **overrides) -> ComputeJob:
    values = dict(
        user=park.alice,
        tenant=park.acme,
        name="train",
        script="#!/bin/bash\necho park job $PARK_JOB_ID on $CUDA_VISIBLE_DEVICES\nsleep 1\n",
        partition="gpu",
        gpus=1,
        cpus=1,
        memory_mb=256,
        time_limit_minutes=5,
    )
    values.update(overrides)
    return job_submit(**values)


def gpu_use(park, tenant=None) -> Decimal:
    now = timezone.now()
    return used_hours(
        tenant=tenant or park.acme,
        resource_class=ResourceKind.GPU_NODE,
        start=now - dt.timedelta(days=1),
        end=now + dt.timedelta(days=1),
    )


def test_a_job_runs_and_its_real_gpu_hours_are_charged(cluster):
    park = cluster
    job = submit(park, pool=park.pool_gpu, partition="", gpus=2)
    assert job.state == JobState.QUEUED
    assert gpu_use(park) == Decimal("0.17")  # held: 2 GPUs × 5 minutes

    job = job_send(job_id=job.pk)
    assert job.state == JobState.PENDING and job.slurm_job_id
    job = follow_until_ended(job)

    assert job.state == JobState.COMPLETED
    assert job.exit_code == 0
    assert job.started_at and job.ended_at and job.ended_at >= job.started_at
    ran = Decimal((job.ended_at - job.started_at).total_seconds()) / Decimal(3600)
    assert job.gpu_hours == (2 * ran).quantize(Decimal("0.0001"))
    assert gpu_use(park) == job.gpu_hours.quantize(Decimal("0.01"))  # the hold became real use
    output = job_output(user=park.alice, pk=job.pk)
    assert output is not None and f"park job {job.pk} on 0,1" in output
    assert job_output(user=park.bob, pk=job.pk) == output  # bob manages acme


def test_the_jobs_page_shows_a_finished_jobs_output(cluster, client):
    from django.urls import reverse

    park = cluster
    job = follow_until_ended(job_send(job_id=submit(park, gpus=1).pk))
    assert job.state == JobState.COMPLETED
    client.force_login(park.alice)
    page = client.get(reverse("job_detail", args=[job.pk])).content.decode()
    assert f"park job {job.pk} on 0" in page and "not readable from this server" not in page
    assert str(job.slurm_job_id) in page and "Cancel this job" not in page


def test_a_job_runs_as_the_members_cluster_user_in_the_tenants_account(cluster, slurm):
    park = cluster
    job = job_send(job_id=submit(park).pk)
    info = slurm.get_job(job.slurm_job_id)
    member = Membership.objects.get(user=park.alice, tenant=park.acme)
    assert info.user == member.cluster_username
    assert info.account == park.acme.slurm_account
    assert info.name == job.slurm_name and info.comment == job_marker(job)
    assert info.partition == "gpu"


def test_a_job_in_a_booking_runs_on_the_booked_node_at_its_start(cluster, slurm, settings):
    from booking.bookings.services import booking_create_instant

    park = cluster
    # Without the park agent there are no reservations from bookings: the job is pinned to the
    # node and its start only (the reservation case is in test_park_sync.py).
    settings.SLURM_AGENT_URL = ""
    start = timezone.now().replace(minute=0, second=0, microsecond=0) + dt.timedelta(hours=2)
    booking = booking_create_instant(
        user=park.alice,
        tenant=park.acme,
        resource=park.gpu,
        start=start,
        end=start + dt.timedelta(hours=2),
        units=2,
        title="training run",
    )
    job = job_send(job_id=submit(park, booking=booking, partition="", gpus=2).pk)
    info = slurm.get_job(job.slurm_job_id)
    assert info.state.value == "PENDING"
    spec = job_spec(job)
    assert spec.nodelist == park.gpu.gpu.slurm_node and spec.gpu_type == "a100"
    assert spec.begin_time == start and spec.reservation is None
    job_cancel(user=park.alice, job=job)
    job_cancel_send(job_id=job.pk, client=slurm)  # the worker's part: tidy the cluster up


def test_cancel_stops_a_running_job_in_slurm(cluster, slurm, django_capture_on_commit_callbacks):
    park = cluster
    job = job_send(job_id=submit(park, script="#!/bin/bash\nsleep 300\n").pk)
    deadline = time.monotonic() + 30
    while job.state != JobState.RUNNING:
        assert time.monotonic() < deadline, "job did not start"
        time.sleep(0.3)
        jobs_follow()
        job.refresh_from_db()
    with django_capture_on_commit_callbacks(execute=False) as queued:
        job = job_cancel(user=park.alice, job=job)
    # Recorded only: Slurm still runs the job until the worker sends the cancel.
    assert job.cancelling and slurm.get_job(job.slurm_job_id).state.value == "RUNNING"
    for task in queued:
        task()
    job = follow_until_ended(job)
    assert job.state == JobState.CANCELLED and job.cancel_sent_at is not None
    assert slurm.get_job(job.slurm_job_id).state.value == "CANCELLED"
    assert job.ended_at and job.gpu_hours >= 0


def test_a_cancel_sent_while_slurmrestd_is_unreachable_is_retried_and_sent_once(
    cluster, slurm_env, slurm
):
    park = cluster
    job = job_send(job_id=submit(park, script="#!/bin/bash\nsleep 300\n").pk)
    job_cancel(user=park.alice, job=job)  # its task is not run: the sends below stand for it
    base = config_from_env(slurm_env)
    down = SlurmClient(
        SlurmConfig(
            base_url="http://127.0.0.1:9",  # nothing listens there
            user=base.user,
            jwt_key_file=base.jwt_key_file,
            token=base.token,
            retries=0,
            timeout=2,
        )
    )
    job = job_cancel_send(job_id=job.pk, client=down)
    assert job.cancel_sent_at is None and job.cancel_attempts == 1 and job.next_cancel_at
    assert slurm.get_job(job.slurm_job_id).state.value in ("PENDING", "RUNNING")
    assert jobs_cancel_due(client=slurm, now=job.next_cancel_at) == 1
    assert jobs_cancel_due(client=slurm, now=job.next_cancel_at) == 0  # sent once
    job = follow_until_ended(job)
    assert job.state == JobState.CANCELLED


def test_cancel_before_submission_never_reaches_slurm(cluster, slurm):
    park = cluster
    job = submit(park)
    job = job_cancel(user=park.alice, job=job)
    assert job.state == JobState.CANCELLED
    assert job_send(job_id=job.pk) is None
    assert job_find_in_slurm(job=job, client=slurm) is None


def test_another_tenant_cannot_cancel_the_job(cluster):
    from booking.errors import NotFound

    park = cluster
    job = submit(park)
    with pytest.raises(NotFound):
        job_cancel(user=park.charlie, job=job)


def test_a_slurm_refusal_fails_the_job_with_slurms_reason_and_releases_the_hold(cluster):
    park = cluster
    # More memory than any node has: our checks let it through, Slurm refuses it.
    job = submit(park, memory_mb=10_000_000)
    assert gpu_use(park) > 0
    job = job_send(job_id=job.pk)
    assert job.state == JobState.FAILED
    assert "Slurm refused the job" in job.reason and "Slurm error" in job.reason
    assert job.slurm_job_id is None and job.ended_at is not None
    assert gpu_use(park) == 0


def test_a_tenant_without_a_slurm_account_is_refused_by_slurm(cluster, slurm_accounting):
    if not slurm_accounting:
        pytest.skip("account enforcement needs slurmdbd (SLURM_DEV_ACCOUNTING=1)")
    park = cluster
    # The account is named by the slug: a tenant whose account Slurm does not have.
    type(park.acme).objects.filter(pk=park.acme.pk).update(slug="no-such-account")
    park.acme.refresh_from_db()
    job = job_send(job_id=submit(park).pk)
    assert job.state == JobState.FAILED
    assert "2045" in job.reason


def test_a_job_slurm_accepted_while_our_worker_died_is_adopted_not_resubmitted(cluster, slurm):
    park = cluster
    job = submit(park)
    # The worker claims the job and Slurm accepts it; the worker dies before recording the id.
    now = timezone.now()
    ComputeJob.objects.filter(pk=job.pk).update(
        submit_attempts=1, next_attempt_at=now + dt.timedelta(minutes=2)
    )
    job.refresh_from_db()
    member = Membership.objects.get(user=park.alice, tenant=park.acme)
    slurm_id = slurm.submit(job_spec(job), user=member.cluster_username)
    # The lease runs out; the sweep finds the job in Slurm instead of submitting it again.
    assert jobs_send_due(now=now + dt.timedelta(minutes=3)) == 1
    job.refresh_from_db()
    assert job.slurm_job_id == slurm_id and job.state == JobState.PENDING
    same_name = slurm.list_jobs(name_prefix=job.slurm_name) or []
    assert [j.job_id for j in same_name if j.comment == job_marker(job)] == [slurm_id]


@pytest.mark.skipif(os.geteuid() != 0, reason="restarting slurmrestd needs root")
def test_a_slurmrestd_restart_mid_batch_loses_and_doubles_nothing(cluster, slurm_env, slurm):
    park = cluster
    if not (REPO / "var" / "slurm" / "env").exists() and not os.environ.get("SLURM_DEV_DIR"):
        pytest.skip("slurmrestd is not the one scripts/slurm-dev-cluster runs")
    base = config_from_env(slurm_env)
    # No client retries: every outage reaches the flow itself.
    fragile = SlurmClient(
        SlurmConfig(
            base_url=base.base_url,
            user=base.user,
            jwt_key_file=base.jwt_key_file,
            token=base.token,
            cluster=base.cluster,
            retries=0,
            timeout=5,
        )
    )
    jobs = [
        submit(park, name=f"batch-{i}", gpus=0, partition="cpu", script="#!/bin/sh\ntrue\n")
        for i in range(60)
    ]
    restarted = threading.Event()

    def restart():
        subprocess.run(
            [str(SCRIPT), "restart", "slurmrestd"],
            check=True,
            capture_output=True,
            env={**os.environ, "SLURM_DEV_DIR": str(Path(slurm_env["SLURM_CONF"]).parents[1])},
        )
        restarted.set()

    outcomes = []
    restarter = None
    for i, job in enumerate(jobs):
        if i == 10:
            restarter = threading.Thread(target=restart)
            restarter.start()
        sent = job_send(job_id=job.pk, client=fragile)
        outcomes.append(sent.state if sent else None)
        time.sleep(0.02)
    restarter.join(timeout=60)
    assert restarted.is_set()
    assert JobState.QUEUED in outcomes, "the restart did not interrupt any submission"

    # Retries as the periodic sweep would run them, until every job is in Slurm.
    deadline = time.monotonic() + 60
    later = timezone.now()
    while ComputeJob.objects.filter(pk__in=[j.pk for j in jobs], state=JobState.QUEUED).exists():
        assert time.monotonic() < deadline, "jobs stuck in the queue"
        later += dt.timedelta(minutes=10)
        jobs_send_due(client=fragile, now=later)
        time.sleep(0.2)

    table = slurm.list_jobs(name_prefix="park-") or []
    for job in jobs:
        job.refresh_from_db()
        assert job.state != JobState.FAILED, job.reason
        in_slurm = [j.job_id for j in table if j.comment == job_marker(job)]
        assert in_slurm == [job.slurm_job_id], f"job {job.pk}: Slurm has {in_slurm}"
    fragile.close()
