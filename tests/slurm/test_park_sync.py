"""The park → Slurm reconciliation against the real dev cluster: accounts under the park's parent,
member associations, GPU-hour limits and fair-share as sacctmgr reports them; reservations from
GPU bookings created, moved and removed; a job without a booking kept off another tenant's
reserved nodes. Drift is shown without --apply and nothing changes then."""

from __future__ import annotations

import datetime as dt
import io
import os
import subprocess
import time
from decimal import Decimal

import pytest
from django.core.management import call_command
from django.utils import timezone

from booking.bookings.models import Booking, BookingStatus
from booking.compute.models import ComputeJob
from booking.tenancy.models import Membership, Period, Quota, Tenant
from resources.models import GpuNode, ResourceKind, SlurmSyncReport
from resources.services import gpu_node_create
from resources.slurm import JobSpec, JobState
from resources.slurm.agent_client import AgentClient, AgentConfig
from resources.slurm_park import reservation_name

pytestmark = [pytest.mark.slurm, pytest.mark.slow, pytest.mark.django_db]


def _slurm_env(slurm_env) -> dict[str, str]:
    env = dict(os.environ)
    env.update({k: v for k, v in slurm_env.items() if k.startswith("SLURM_") and v})
    env.pop("SLURM_JWT", None)
    return env


def sacctmgr(slurm_env, *args: str) -> list[list[str]]:
    out = subprocess.run(
        ["sacctmgr", "-n", "-P", *args],
        capture_output=True,
        text=True,
        env=_slurm_env(slurm_env),
        check=True,
        timeout=30,
    ).stdout
    return [line.split("|") for line in out.splitlines() if line.strip()]


def associations(slurm_env, account: str) -> dict[str, dict[str, str]]:
    """{user or '': {parent, fairshare, grptresmins}} of an account, as sacctmgr shows them."""
    rows = sacctmgr(
        slurm_env,
        "show",
        "assoc",
        f"account={account}",
        f"cluster={slurm_env['SLURM_CLUSTER']}",
        "format=account,user,parentname,fairshare,grptresmins",
    )
    return {
        r[1]: {"parent": r[2], "fairshare": r[3], "grptresmins": r[4]}
        for r in rows
        if r[0] == account
    }


def reservation(slurm_env, name: str) -> dict[str, str] | None:
    done = subprocess.run(
        ["scontrol", "-o", "show", "reservation", name],
        capture_output=True,
        text=True,
        env=_slurm_env(slurm_env),
        timeout=30,
    )
    if done.returncode != 0 or "not found" in done.stdout + done.stderr:
        return None
    return dict(part.partition("=")[::2] for part in done.stdout.split())


def slurm_local(text: str) -> dt.datetime:
    return dt.datetime.strptime(text, "%Y-%m-%dT%H:%M:%S").astimezone(dt.UTC)


@pytest.fixture
def synced(park, settings, slurm_env, slurm, slurm_accounting):
    """Settings for the dev cluster and its agent; the park's GPU node on this cluster; alice
    (acme) is parkdev1, charlie (globex) parkdev2, bob has no cluster user name."""
    if not slurm_accounting:
        pytest.skip("the dev cluster runs without slurmdbd")
    if not slurm_env.get("SLURM_AGENT_URL"):
        pytest.fail("the dev cluster's env has no SLURM_AGENT_URL (scripts/slurm-dev-cluster up)")
    settings.SLURM_REST_URL = slurm_env["SLURM_REST_URL"]
    settings.SLURM_API_VERSION = slurm_env.get("SLURM_API_VERSION", "v0.0.38")
    settings.SLURM_USER = slurm_env["SLURM_USER"]
    settings.SLURM_JWT_KEY_FILE = slurm_env.get("SLURM_JWT_KEY_FILE", "")
    settings.SLURM_TOKEN = slurm_env.get("SLURM_TOKEN", "")
    settings.SLURM_CLUSTER = slurm_env["SLURM_CLUSTER"]
    settings.SLURM_AGENT_URL = slurm_env["SLURM_AGENT_URL"]
    settings.SLURM_AGENT_KEY_FILE = slurm_env["SLURM_AGENT_KEY_FILE"]
    settings.SLURM_PARENT_ACCOUNT = slurm_env.get("SLURM_DEFAULT_ACCOUNT") or "park"
    settings.SLURM_QUOTA_PERIOD = "month"
    GpuNode.objects.filter(resource=park.gpu).update(slurm_cluster=slurm_env["SLURM_CLUSTER"])
    users = (slurm_env.get("SLURM_DEV_EXTRA_USERS") or "parkdev1,parkdev2").split(",")
    Membership.objects.filter(user=park.alice).update(cluster_username=users[0])
    Membership.objects.filter(user=park.bob).update(cluster_username="")
    Membership.objects.filter(user=park.charlie).update(cluster_username=users[-1])
    yield park
    # Leave no park reservation behind for the other Slurm tests.
    Booking.objects.filter(status=BookingStatus.CONFIRMED).update(status=BookingStatus.CANCELLED)
    with AgentClient(
        AgentConfig(url=slurm_env["SLURM_AGENT_URL"], key_file=slurm_env["SLURM_AGENT_KEY_FILE"])
    ) as agent:
        for res in slurm.reservations():
            if res.name.startswith("park_booking_"):
                agent.reservation_delete(name=res.name)


def run_sync(*args: str) -> tuple[int, str]:
    out = io.StringIO()
    try:
        call_command("slurm_sync", *args, stdout=out)
        code = 0
    except SystemExit as exit_:
        code = int(exit_.code or 0)
    return code, out.getvalue()


def section_lines(text: str, *sections: str) -> list[str]:
    return [
        line
        for line in text.splitlines()
        if line.startswith("drift · ") and line.split(" · ")[1].split(":")[0] in sections
    ]


def test_accounts_associations_limits_and_fairshare(synced, slurm_env):
    park = synced
    Quota.objects.update_or_create(
        tenant=park.acme,
        resource_class=ResourceKind.GPU_NODE,
        period=Period.MONTH,
        defaults={"hours": Decimal("12.5")},
    )
    Tenant.objects.filter(pk=park.acme.pk).update(weight=Decimal("1.5"))
    # Something Slurm must lose: a stray association under acme (if acme exists already).
    before = associations(slurm_env, "acme")

    code, text = run_sync()
    assert code == 1
    drift = section_lines(text, "accounts", "associations", "limits")
    assert any(line.split(": ", 1)[1].startswith("acme") for line in drift), text
    # Without --apply nothing changed.
    assert associations(slurm_env, "acme") == before
    report = SlurmSyncReport.objects.first()
    assert report is not None and not report.applied and not report.in_step
    assert report.drift_count >= len(drift)

    code, text = run_sync("--apply")
    assert "error" not in text, text
    acme = associations(slurm_env, "acme")
    assert acme[""]["parent"] == "park"
    assert acme[""]["fairshare"] == "1500"  # weight 1.5 × 1000
    assert acme[""]["grptresmins"] == "gres/gpu=750"  # 12.5 h × 60
    assert set(acme) == {"", "parkdev1"}
    globex = associations(slurm_env, "globex")
    assert globex[""]["parent"] == "park"
    assert globex[""]["fairshare"] == "2000"
    assert globex[""]["grptresmins"] == ""  # no monthly GPU quota: no limit
    assert set(globex) == {"", "parkdev2"}

    # In step now: a second look shows no account drift, and applying again changes nothing.
    code, text = run_sync()
    assert section_lines(text, "accounts", "associations", "limits") == [], text
    code, text = run_sync("--apply")
    assert "changed · accounts" not in text and "changed · limits" not in text, text

    # Changes in the park show as drift, then reach Slurm. (slurmdbd keeps an association while
    # it has queued jobs - the sync then reports an error - so end other tests' jobs of it.)
    # Jobs a controller crash lost stay "pending" in slurmdbd until its runaway jobs are fixed.
    for command in (
        ["scancel", "--account=acme", "--user=parkdev1"],
        ["sacctmgr", "-i", "show", "runawayjobs"],
    ):
        subprocess.run(command, env=_slurm_env(slurm_env), capture_output=True, timeout=60)
    Quota.objects.filter(tenant=park.acme, period=Period.MONTH).update(hours=20)
    Membership.objects.filter(user=park.bob).update(cluster_username="parkdev2")
    Membership.objects.filter(user=park.alice).update(cluster_username="")
    code, text = run_sync()
    lines = section_lines(text, "limits", "associations")
    assert any("gres/gpu 750 → 1200" in line for line in lines), text
    assert any("acme/parkdev2: missing" in line for line in lines), text
    assert any("acme/parkdev1" in line for line in lines), text
    deadline = time.monotonic() + 30
    while True:  # cancelled jobs take a moment to leave
        code, text = run_sync("--apply")
        if "error" not in text or time.monotonic() > deadline:
            break
        time.sleep(2)
    assert "error" not in text, text
    acme = associations(slurm_env, "acme")
    assert acme[""]["grptresmins"] == "gres/gpu=1200"
    assert set(acme) == {"", "parkdev2"}

    # The last report is readable in the admin.
    report = SlurmSyncReport.objects.first()
    assert report.applied
    from django.test import Client

    client = Client()
    client.force_login(park.olga)
    page = client.get(f"/admin/resources/slurmsyncreport/{report.pk}/change/")
    assert page.status_code == 200
    assert "acme" in page.content.decode()


def _booking(park, *, node, start, end, tenant=None) -> Booking:
    tenant = tenant or park.acme
    return Booking.objects.create(
        tenant=tenant,
        user=park.alice if tenant == park.acme else park.charlie,
        resource=node,
        title="training run",
        units=node.gpu.gpu_count,
        start=start,
        end=end,
        status=BookingStatus.CONFIRMED,
    )


def test_reservation_follows_its_booking(synced, slurm_env):
    park = synced
    now = timezone.now().replace(microsecond=0)
    booking = _booking(
        park,
        node=park.gpu,
        start=now + dt.timedelta(minutes=30),
        end=now + dt.timedelta(minutes=90),
    )
    name = reservation_name(booking.pk)
    code, text = run_sync()
    assert f"drift · reservations: {name}: missing" in text
    assert reservation(slurm_env, name) is None

    run_sync("--apply")
    res = reservation(slurm_env, name)
    assert res is not None, "reservation not created"
    assert res["Nodes"] == "gpu01"
    assert res["Accounts"] == "acme"
    assert slurm_local(res["StartTime"]) == booking.start
    assert slurm_local(res["EndTime"]) == booking.end

    # Moved: the reservation follows.
    Booking.objects.filter(pk=booking.pk).update(
        start=booking.start + dt.timedelta(minutes=60), end=booking.end + dt.timedelta(minutes=90)
    )
    booking.refresh_from_db()
    code, text = run_sync()
    assert any(
        line.startswith(f"drift · reservations: {name}: start") for line in text.splitlines()
    )
    run_sync("--apply")
    res = reservation(slurm_env, name)
    assert slurm_local(res["StartTime"]) == booking.start
    assert slurm_local(res["EndTime"]) == booking.end

    # Cancelled: removed.
    Booking.objects.filter(pk=booking.pk).update(status=BookingStatus.CANCELLED)
    code, text = run_sync()
    assert f"{name}: in Slurm, no confirmed booking holds it" in text
    run_sync("--apply")
    assert reservation(slurm_env, name) is None


def test_reservation_ended_early_and_started(synced, slurm_env):
    park = synced
    now = timezone.now().replace(microsecond=0)
    booking = _booking(
        park, node=park.gpu, start=now - dt.timedelta(minutes=5), end=now + dt.timedelta(hours=2)
    )
    name = reservation_name(booking.pk)
    run_sync("--apply")
    time.sleep(2)  # created to start a second from now (its booking began already)
    res = reservation(slurm_env, name)
    assert res is not None and res["State"] == "ACTIVE"
    # Ended early: the end comes forward, the running reservation keeps its start.
    Booking.objects.filter(pk=booking.pk).update(end=now + dt.timedelta(minutes=20))
    run_sync("--apply")
    res = reservation(slurm_env, name)
    assert slurm_local(res["EndTime"]) == now + dt.timedelta(minutes=20)
    # Ended now (completed): removed.
    Booking.objects.filter(pk=booking.pk).update(
        end=timezone.now() - dt.timedelta(seconds=1), status=BookingStatus.COMPLETED
    )
    run_sync("--apply")
    assert reservation(slurm_env, name) is None


def _h100_nodes_booked_by_acme(park, *, cluster: str) -> None:
    """Two 8 × H100 nodes of the dev cluster's partition gpu, both booked by acme from five
    minutes from now for three hours, their reservations made by the sync."""
    now = timezone.now().replace(microsecond=0)
    for name in ("gpu03", "gpu04"):
        node = gpu_node_create(
            name=f"H100 node {name}",
            slug=f"test-{name}",
            location=park.gpu.location,
            gpu_model="H100",
            gpu_count=8,
            gpu_memory_gb=80,
            cpus=32,
            memory_gb=125,
            slurm_cluster=cluster,
            slurm_partition="gpu",
            slurm_node=name,
        )
        _booking(
            park,
            node=node,
            start=now + dt.timedelta(minutes=5),
            end=now + dt.timedelta(hours=3),
            tenant=park.acme,
        )
    code, text = run_sync("--apply")
    assert "error" not in text, text


def test_job_without_booking_is_kept_off_reserved_nodes(synced, slurm_env, slurm):
    """The finding: 8 × H100 for 600 minutes, no booking, while another tenant booked both H100
    nodes from a few minutes on. Slurm holds it (it cannot end before the reserved window)."""
    park = synced
    _h100_nodes_booked_by_acme(park, cluster=slurm_env["SLURM_CLUSTER"])
    spec = dict(
        script="#!/bin/bash\nsleep 30\n",
        working_directory=slurm_env.get("SLURM_WORKDIR") or "/tmp",
        partition="gpu",
        gpus=8,
        gpu_type="h100",
        cpus=1,
        memory_mb=256,
        time_limit_minutes=600,
    )
    bypass = slurm.submit(
        JobSpec(name="park-test-bypass", account="globex", **spec), user="parkdev2"
    )
    try:
        time.sleep(6)  # several scheduler passes (sched_interval=1)
        job = slurm.get_job(bypass)
        assert job.state == JobState.PENDING, job
    finally:
        slurm.cancel(bypass)
    # A short job of the same tenant that ends before the window may still run.
    short = slurm.submit(
        JobSpec(name="park-test-short", account="globex", **{**spec, "time_limit_minutes": 2}),
        user="parkdev2",
    )
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            job = slurm.get_job(short)
            if job.state != JobState.PENDING:
                break
            time.sleep(0.5)
        assert job.state in (JobState.RUNNING, JobState.COMPLETED), job
    finally:
        slurm.cancel(short)


def test_the_api_refuses_an_unbooked_job_that_cannot_fit_and_sends_one_that_does(
    synced, slurm_env, slurm, settings, wait_for_job
):
    """The same finding through the park: with acme's bookings on both H100 nodes from a few
    minutes on, globex's 8 × H100 for 600 minutes cannot start outside them within the horizon
    (here 3 minutes): refused, nothing stored. A 2-minute job fits before the window: stored,
    sent, and Slurm runs it."""
    from booking.compute.sending import jobs_send_batch
    from booking.compute.services import job_submit
    from booking.errors import ParkError

    park = synced
    settings.SLURM_UNRESERVED_HORIZON_HOURS = 0.05
    settings.SLURM_JOB_WORKDIR = slurm_env.get("SLURM_WORKDIR") or "/tmp"
    _h100_nodes_booked_by_acme(park, cluster=slurm_env["SLURM_CLUSTER"])
    request = dict(
        user=park.charlie,
        tenant=park.globex,
        name="bypass",
        script="#!/bin/bash\nsleep 5\n",
        partition="gpu",
        gpus=8,
        memory_mb=256,
        client=slurm,
    )
    with pytest.raises(ParkError) as refused:
        job_submit(time_limit_minutes=600, **request)
    assert refused.value.code == "no_unreserved_capacity" and refused.value.status == 409
    assert refused.value.params["partition"] == "gpu"
    assert not ComputeJob.objects.exists()
    job = job_submit(time_limit_minutes=2, **{**request, "name": "short"})
    (sent,) = jobs_send_batch(client=slurm)
    assert sent.pk == job.pk and sent.slurm_job_id
    info = wait_for_job(sent.slurm_job_id, until=lambda j: j.state != JobState.PENDING, timeout=30)
    assert info.state in (JobState.RUNNING, JobState.COMPLETED), info
    slurm.cancel(sent.slurm_job_id)


def scontrol_job(slurm_env, job_id: int) -> dict[str, str]:
    out = subprocess.run(
        ["scontrol", "-o", "show", "job", str(job_id)],
        capture_output=True,
        text=True,
        env=_slurm_env(slurm_env),
        timeout=30,
    ).stdout
    return dict(part.partition("=")[::2] for part in out.split())


def test_a_job_in_a_booking_runs_in_its_reservation(synced, slurm_env, slurm):
    from booking.compute.sending import job_send
    from booking.compute.services import job_submit

    park = synced
    now = timezone.now().replace(microsecond=0)
    booking = _booking(
        park, node=park.gpu, start=now - dt.timedelta(minutes=1), end=now + dt.timedelta(hours=1)
    )
    job = job_submit(
        user=park.alice,
        tenant=park.acme,
        name="in-booking",
        script="#!/bin/bash\nsleep 1\n",
        time_limit_minutes=10,
        gpus=1,
        memory_mb=256,
        booking=booking,
    )
    # Sent before the reservation exists: Slurm refuses the reservation; the job waits (it is
    # not failed) and a reconciliation is asked for.
    job = job_send(job_id=job.pk)
    assert job.state == "queued" and "reservation" in job.last_error.lower(), job.last_error
    run_sync("--apply")
    ComputeJob.objects.filter(pk=job.pk).update(next_attempt_at=None)
    job = job_send(job_id=job.pk)
    assert job.state == "pending" and job.slurm_job_id, job.last_error
    try:
        info = scontrol_job(slurm_env, job.slurm_job_id)
        assert info["Reservation"] == reservation_name(booking.pk)
        assert info["Account"] == "acme"
    finally:
        slurm.cancel(job.slurm_job_id)


def test_the_gpu_hour_limit_is_enforced_by_slurm(synced, slurm_env, slurm):
    """A month's quota of 1 GPU-hour: a 2-GPU job of 60 minutes would exceed it and is held
    (AccountingStorageEnforce=safe: a job starts only if it fits the limit)."""
    park = synced
    Quota.objects.update_or_create(
        tenant=park.globex,
        resource_class=ResourceKind.GPU_NODE,
        period=Period.MONTH,
        defaults={"hours": Decimal("1")},
    )
    run_sync("--apply")
    assert associations(slurm_env, "globex")[""]["grptresmins"] == "gres/gpu=60"
    job_id = slurm.submit(
        JobSpec(
            name="park-test-over-quota",
            script="#!/bin/bash\nsleep 1\n",
            working_directory=slurm_env.get("SLURM_WORKDIR") or "/tmp",
            account="globex",
            partition="gpu",
            gpus=2,
            memory_mb=256,
            time_limit_minutes=60,
        ),
        user="parkdev2",
    )
    try:
        time.sleep(4)
        info = slurm.get_job(job_id)
        assert info.state == JobState.PENDING, info
        assert "AssocGrp" in info.state_reason, info.state_reason
    finally:
        slurm.cancel(job_id)
