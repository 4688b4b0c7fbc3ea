"""Compute-job pages: my jobs, the tenant's jobs for managers, one job with its output tail, and
cancel through the job service; cross-tenant and cross-member 404s, constant query counts.

Jobs are written straight into the database in every state; cancelling a job Slurm runs uses the
scripted Slurm of test_job_submit (the real cluster is exercised in tests/slurm/test_job_flow.py).
"""

from __future__ import annotations

import datetime as dt
import os
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import formats, timezone

from booking.compute.models import ComputeJob, JobState
from resources.slurm import JobInfo, SlurmError
from resources.slurm import JobState as SlurmState
from tests.compute.test_job_submit import FakeSlurm

HX = {"HTTP_HX_REQUEST": "true"}
_slurm_ids = iter(range(7000, 100_000))


def make_job(park, *, user=None, tenant=None, state=JobState.QUEUED, name="train", **extra):
    """A job row as the job services leave it in ``state`` (no Slurm involved)."""
    now = timezone.now()
    values: dict = {
        "tenant": tenant or park.acme,
        "user": user or park.alice,
        "name": name,
        "script": "#!/bin/bash\ntrue\n",
        "partition": "gpu",
        "gpus": 2,
        "time_limit_minutes": 90,
        "state": state,
    }
    if state != JobState.QUEUED:
        values["slurm_job_id"] = next(_slurm_ids)
        values["submitted_at"] = now - dt.timedelta(minutes=30)
    if state in (JobState.RUNNING, JobState.COMPLETED, JobState.FAILED, JobState.TIMEOUT):
        values["started_at"] = now - dt.timedelta(minutes=20)
    if state in (JobState.COMPLETED, JobState.FAILED, JobState.CANCELLED, JobState.TIMEOUT):
        values["ended_at"] = now - dt.timedelta(minutes=5)
        values["gpu_hours"] = Decimal("0.5")
        values["exit_code"] = 0 if state == JobState.COMPLETED else 1
    values.update(extra)
    return ComputeJob.objects.create(**values)


def detail(job) -> str:
    return reverse("job_detail", args=[job.pk])


def cancel(job) -> str:
    return reverse("job_cancel", args=[job.pk])


@pytest.fixture
def alice(client, park):
    client.force_login(park.alice)
    return client


@pytest.fixture
def workdir(settings, tmp_path):
    settings.SLURM_JOB_WORKDIR = str(tmp_path)
    return tmp_path


@pytest.fixture
def slurm(monkeypatch):
    """The job services' client is a scripted Slurm (what job_cancel uses without a client)."""
    from booking.compute import slurm as jobs

    fake = FakeSlurm()
    fake.cancelled = []

    def cancel_in_slurm(job_id):
        # Slurm ends the job: it ran 15 minutes on 1 GPU.
        fake.cancelled.append(job_id)
        end = timezone.now()
        fake.table = [j for j in fake.table if j.job_id != job_id]
        fake.table.append(
            JobInfo(
                job_id=job_id,
                name="park-job",
                state=SlurmState.CANCELLED,
                gpus=1,
                start_time=end - dt.timedelta(minutes=15),
                end_time=end,
                exit_code=0,
            )
        )
        return True

    fake.cancel = cancel_in_slurm
    monkeypatch.setattr(jobs, "slurm_client", lambda: fake)
    return fake


def write_output(workdir, job, data: bytes):
    path = workdir / f"{job.slurm_name}-{job.slurm_job_id}.out"
    path.write_bytes(data)
    return path


# ---- the list -------------------------------------------------------------------------------


def test_my_jobs_lists_own_jobs_newest_first_with_their_facts(alice, park):
    older = make_job(park, name="older run", state=JobState.COMPLETED)
    newer = make_job(park, name="newer run", state=JobState.RUNNING, pool=park.pool_gpu)
    make_job(park, user=park.bob, name="bobs run")
    make_job(park, user=park.charlie, tenant=park.globex, name="globex run")
    page = alice.get(reverse("my_jobs")).content.decode()
    assert page.index("newer run") < page.index("older run")
    assert "bobs run" not in page and "globex run" not in page
    assert f"#{older.pk}" in page and str(older.slurm_job_id) in page
    assert "Acme Robotics" in page and "Any A100" in page
    assert "1 h 30 min" in page  # the time limit
    assert 'class="status job-running">Running<' in page
    assert 'class="status job-completed">Completed<' in page
    assert ">0.50<" in page  # GPU-hours charged to the ended job
    started = timezone.localtime(newer.started_at)
    assert formats.date_format(started, "SHORT_DATETIME_FORMAT") in page


def test_the_list_shows_park_local_times(alice, park, settings):
    settings.TIME_ZONE = "Asia/Hong_Kong"
    submitted = dt.datetime(2026, 3, 1, 23, 30, tzinfo=dt.UTC)
    job = make_job(park, state=JobState.PENDING)
    ComputeJob.objects.filter(pk=job.pk).update(created_at=submitted)
    page = alice.get(reverse("my_jobs")).content.decode()
    assert "02/03/2026 07:30" in page  # 23:30 UTC is 07:30 the next day in Hong Kong (d/m/Y)


def test_the_list_is_paginated(alice, park):
    for i in range(30):
        make_job(park, name=f"run-{i:02d}")
    first = alice.get(reverse("my_jobs")).content.decode()
    assert "run-29" in first and "run-05" in first and "run-04" not in first
    assert "Page 1 of 2" in first and "?page=2" in first
    second = alice.get(reverse("my_jobs"), {"page": 2}).content.decode()
    assert "run-04" in second and "run-00" in second and "run-05" not in second
    # A garbled page number shows a page, not an error.
    assert alice.get(reverse("my_jobs"), {"page": "x'"}).status_code == 200


def test_live_jobs_poll_and_ended_ones_do_not(alice, park):
    job = make_job(park, state=JobState.PENDING)
    assert 'hx-trigger="every 5s"' in alice.get(reverse("my_jobs")).content.decode()
    assert 'hx-trigger="every 5s"' in alice.get(detail(job)).content.decode()
    ComputeJob.objects.filter(pk=job.pk).update(state=JobState.COMPLETED)
    assert "hx-trigger" not in alice.get(reverse("my_jobs")).content.decode()
    assert "hx-trigger" not in alice.get(detail(job)).content.decode()


def test_polling_answers_with_the_partial_only(alice, park):
    job = make_job(park, state=JobState.RUNNING)
    page = alice.get(reverse("my_jobs"), HTTP_HX_TARGET="jobs", **HX).content.decode()
    assert page.startswith('<div id="jobs"') and "<html" not in page
    page = alice.get(detail(job), HTTP_HX_TARGET="job", **HX).content.decode()
    assert page.startswith('<div id="job"') and "<html" not in page


def test_the_nav_links_to_the_jobs_page(alice, park):
    assert f'href="{reverse("my_jobs")}"' in alice.get(reverse("home")).content.decode()


def test_manager_sees_the_tenants_jobs_member_and_other_tenant_get_404(client, park):
    make_job(park, name="alice run")
    make_job(park, user=park.charlie, tenant=park.globex, name="globex run")
    client.force_login(park.bob)
    assert reverse("tenant_jobs", args=["acme"]) in client.get(reverse("my_jobs")).content.decode()
    page = client.get(reverse("tenant_jobs", args=["acme"])).content.decode()
    assert "alice run" in page and "Alice" in page and "globex run" not in page
    assert client.get(reverse("tenant_jobs", args=["globex"])).status_code == 404
    client.force_login(park.alice)
    assert client.get(reverse("tenant_jobs", args=["acme"])).status_code == 404
    client.force_login(park.charlie)
    assert client.get(reverse("tenant_jobs", args=["acme"])).status_code == 404


@pytest.mark.parametrize("page", ["my_jobs", "tenant_jobs", "job_detail"])
def test_page_query_count_does_not_grow_with_jobs(client, park, page, workdir):
    client.force_login(park.bob)
    first = make_job(park, user=park.bob, state=JobState.RUNNING, pool=park.pool_gpu)
    url = {
        "my_jobs": reverse("my_jobs"),
        "tenant_jobs": reverse("tenant_jobs", args=["acme"]),
        "job_detail": detail(first),
    }[page]
    with CaptureQueriesContext(connection) as one:
        assert client.get(url).status_code == 200
    states = list(JobState)
    for i in range(24):
        make_job(
            park,
            user=park.bob if i % 2 else park.alice,
            state=states[i % len(states)],
            pool=park.pool_gpu if i % 3 else None,
            name=f"run {i}",
        )
    with CaptureQueriesContext(connection) as many:
        response = client.get(url)
        assert response.status_code == 200
    assert len(many) == len(one), [q["sql"] for q in many.captured_queries]
    shown = {"my_jobs": 13, "tenant_jobs": 25, "job_detail": 1}[page]  # bob's, or all of acme's
    assert response.content.decode().count('class="status job-') == shown


def test_pages_need_sign_in(client, park):
    job = make_job(park)
    for url in [reverse("my_jobs"), detail(job), reverse("tenant_jobs", args=["acme"])]:
        response = client.get(url)
        assert response.status_code == 302 and "/accounts/login/" in response.url
    response = client.post(cancel(job))
    assert response.status_code == 302 and "/accounts/login/" in response.url
    assert ComputeJob.objects.get(pk=job.pk).state == JobState.QUEUED


# ---- one job --------------------------------------------------------------------------------


def test_detail_shows_the_facts_the_reason_and_the_booking(alice, park):
    from booking.bookings.services import booking_create_instant

    start = timezone.now().replace(minute=0, second=0, microsecond=0) + dt.timedelta(days=1)
    booking = booking_create_instant(
        user=park.alice,
        tenant=park.acme,
        resource=park.gpu,
        start=start,
        end=start + dt.timedelta(hours=2),
        units=2,
        title="fine-tune window",
    )
    job = make_job(
        park,
        state=JobState.FAILED,
        booking=booking,
        exit_code=3,
        reason="The script exited with code 3.",
    )
    page = alice.get(detail(job)).content.decode()
    assert "The script exited with code 3." in page
    assert "fine-tune window" in page and reverse("booking_detail", args=[booking.pk]) in page
    assert str(job.slurm_job_id) in page and ">3<" in page  # exit code
    assert "Cancel this job" not in page  # it has ended


def test_a_slurm_refusal_is_shown_as_the_reason(alice, park):
    job = make_job(
        park,
        state=JobState.FAILED,
        slurm_job_id=None,
        submitted_at=None,
        reason="Slurm refused the job: Invalid account or account/partition combination "
        "(Slurm error 2045)",
    )
    page = alice.get(detail(job)).content.decode()
    assert "Invalid account or account/partition combination (Slurm error 2045)" in page
    assert "it has not reached Slurm" in page


def test_a_queued_job_waiting_for_slurm_says_when_it_tries_again(alice, park):
    job = make_job(
        park,
        submit_attempts=2,
        next_attempt_at=timezone.now() + dt.timedelta(seconds=20),
        last_error="connect error: http://slurm.internal:6820/ refused",
    )
    page = alice.get(detail(job)).content.decode()
    assert "Slurm could not be reached yet; the next attempt is at" in page
    assert "slurm.internal" not in page  # the technical error stays in the admin


def test_detail_shows_the_output_tail_escaped(alice, park, workdir):
    job = make_job(park, state=JobState.COMPLETED)
    write_output(workdir, job, b"epoch 1 loss 0.5\n<script>alert(1)</script>\n")
    page = alice.get(detail(job)).content.decode()
    assert '<pre class="job-output">epoch 1 loss 0.5' in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page and "<script>alert" not in page
    assert "Only the end of the output" not in page


def test_detail_shows_only_the_last_64_kib_of_a_long_output(alice, park, workdir):
    job = make_job(park, state=JobState.RUNNING)
    write_output(workdir, job, b"FIRST LINE\n" + b"x" * (70 * 1024) + b"\nLAST LINE\n")
    page = alice.get(detail(job)).content.decode()
    assert "LAST LINE" in page and "FIRST LINE" not in page
    assert "Only the end of the output is shown" in page


def test_output_that_cannot_be_read_says_so(alice, park, workdir):
    job = make_job(park, state=JobState.COMPLETED)  # no file in the job directory
    page = alice.get(detail(job)).content.decode()
    assert "not readable from this server" in page and "job-output" not in page


def test_a_symlinked_output_file_is_not_followed(alice, park, workdir):
    secret = workdir / "secret.key"
    secret.write_text("TOP-SECRET-KEY")
    job = make_job(park, state=JobState.COMPLETED)
    os.symlink(secret, workdir / f"{job.slurm_name}-{job.slurm_job_id}.out")
    page = alice.get(detail(job)).content.decode()
    assert "TOP-SECRET-KEY" not in page and "not readable from this server" in page


def test_charlie_gets_404_for_alices_job_and_cannot_cancel_it(client, park, slurm):
    job = make_job(park, state=JobState.RUNNING)
    client.force_login(park.charlie)
    assert client.get(detail(job)).status_code == 404
    assert client.post(cancel(job)).status_code == 404
    assert ComputeJob.objects.get(pk=job.pk).state == JobState.RUNNING
    assert slurm.cancelled == []


def test_a_plain_member_gets_404_for_another_members_job(alice, park, slurm):
    job = make_job(park, user=park.bob, state=JobState.PENDING)
    assert alice.get(detail(job)).status_code == 404
    assert alice.post(cancel(job)).status_code == 404
    assert ComputeJob.objects.get(pk=job.pk).state == JobState.PENDING
    assert slurm.cancelled == []


def test_a_manager_sees_a_members_job(client, park):
    job = make_job(park, name="alice run")
    client.force_login(park.bob)
    assert "alice run" in client.get(detail(job)).content.decode()


@pytest.mark.parametrize("pk", ["abc", "1_0", "0", "-1", "99999999999999999999999", "٣"])
def test_malformed_ids_answer_404(alice, park, pk):
    make_job(park)  # job 1 exists; none of these ids names it
    assert alice.get(f"/jobs/{pk}/").status_code == 404
    assert alice.post(f"/jobs/{pk}/cancel").status_code == 404


# ---- cancel ---------------------------------------------------------------------------------


def test_cancelling_a_queued_job_never_asks_slurm(alice, park, slurm):
    job = make_job(park)
    response = alice.post(cancel(job), follow=True)
    assert response.redirect_chain[-1][0] == detail(job)
    page = response.content.decode()
    assert "Cancelled: train." in page and "Cancelled before it reached Slurm." in page
    assert ComputeJob.objects.get(pk=job.pk).state == JobState.CANCELLED
    assert slurm.cancelled == []


def test_cancelling_a_running_job_records_it_and_a_worker_cancels_it_in_slurm(
    alice, park, slurm, django_capture_on_commit_callbacks
):
    job = make_job(park, state=JobState.RUNNING)
    with django_capture_on_commit_callbacks(execute=False) as queued:
        response = alice.post(cancel(job), follow=True)
    assert slurm.cancelled == []  # the request never calls Slurm
    job.refresh_from_db()
    assert job.state == JobState.RUNNING and job.cancelling
    page = response.content.decode()
    assert "Slurm is cancelling train" in page and "job-cancelling" in page
    assert len(queued) == 1
    queued[0]()  # the worker
    assert slurm.cancelled == [job.slurm_job_id]
    job.refresh_from_db()
    assert job.state == JobState.CANCELLED and job.gpu_hours == Decimal("0.25")
    assert not job.cancelling


def test_a_manager_cancels_a_members_job(client, park, slurm, django_capture_on_commit_callbacks):
    job = make_job(park, state=JobState.PENDING)
    client.force_login(park.bob)
    with django_capture_on_commit_callbacks(execute=True):
        client.post(cancel(job))
    assert slurm.cancelled == [job.slurm_job_id]
    assert ComputeJob.objects.get(pk=job.pk).state == JobState.CANCELLED


def test_cancelling_an_ended_job_is_refused_with_a_message(alice, park, slurm):
    job = make_job(park, state=JobState.COMPLETED)
    response = alice.post(cancel(job), follow=True)
    page = response.content.decode()
    assert (
        '<li class="error">The job has already ended (Completed).</li>' in page
    )  # messages start with a capital
    assert ComputeJob.objects.get(pk=job.pk).state == JobState.COMPLETED
    assert slurm.cancelled == []


def test_while_slurm_is_down_the_job_shows_cancelling_and_the_cancel_is_retried(
    alice, park, slurm, django_capture_on_commit_callbacks, monkeypatch
):
    from booking.compute.cancelling import jobs_cancel_due
    from booking.compute.tasks import job_cancel_task

    sent = slurm.cancel

    def unreachable(job_id):
        raise SlurmError("cannot reach slurmrestd", transient=True)

    slurm.cancel = unreachable
    later = []
    monkeypatch.setattr(job_cancel_task, "schedule", lambda args, eta: later.append((args, eta)))
    job = make_job(park, state=JobState.RUNNING)
    with django_capture_on_commit_callbacks(execute=True):
        response = alice.post(cancel(job), follow=True)
    assert response.status_code == 200
    assert "Slurm is cancelling train" in response.content.decode()
    job.refresh_from_db()
    assert job.state == JobState.RUNNING and job.cancelling and job.cancel_sent_at is None
    assert job.cancel_attempts == 1 and later == [((job.pk,), job.next_cancel_at)]
    page = alice.get(detail(job)).content.decode()
    assert "Cancelling" in page and reverse("job_cancel", args=[job.pk]) not in page
    # Asked again: nothing new is recorded or queued.
    with django_capture_on_commit_callbacks(execute=False) as again:
        alice.post(cancel(job))
    assert again == []
    # Slurm is back: the retry (or the sweep) sends it once, and only once.
    slurm.cancel = sent
    assert jobs_cancel_due(now=job.next_cancel_at) == 1
    assert jobs_cancel_due(now=job.next_cancel_at) == 0
    assert slurm.cancelled == [job.slurm_job_id]
    assert ComputeJob.objects.get(pk=job.pk).state == JobState.CANCELLED


def test_a_cancel_left_by_a_dead_worker_is_sent_by_the_sweep(
    alice, park, slurm, django_capture_on_commit_callbacks
):
    from booking.compute.cancelling import jobs_cancel_due
    from booking.leases import lease_acquire
    from booking.models import Lease

    job = make_job(park, state=JobState.RUNNING)
    with django_capture_on_commit_callbacks(execute=False):  # the task is lost
        alice.post(cancel(job))
    # A worker took the cancel and died before sending it: its lease blocks until it expires.
    assert lease_acquire(name=f"job-cancel:{job.pk}", seconds=60)
    assert jobs_cancel_due() == 0 and slurm.cancelled == []
    Lease.objects.filter(name=f"job-cancel:{job.pk}").update(
        expires_at=timezone.now() - dt.timedelta(seconds=1)
    )
    assert jobs_cancel_due() == 1
    assert slurm.cancelled == [job.slurm_job_id]


def test_without_a_configured_cluster_cancel_says_so_instead_of_failing(alice, park, settings):
    settings.SLURM_REST_URL = ""
    job = make_job(park, state=JobState.RUNNING)
    response = alice.post(cancel(job), follow=True)
    assert response.status_code == 200
    assert "Slurm could not be reached" in response.content.decode()
    assert ComputeJob.objects.get(pk=job.pk).state == JobState.RUNNING


def test_cancel_needs_post_and_the_csrf_token(park):
    from django.test import Client

    job = make_job(park)
    browser = Client(enforce_csrf_checks=True)
    browser.force_login(park.alice)
    assert browser.get(cancel(job)).status_code == 405
    assert browser.post(cancel(job)).status_code == 403
    assert ComputeJob.objects.get(pk=job.pk).state == JobState.QUEUED


def test_cancel_goes_back_only_to_a_page_of_this_site(alice, park, slurm):
    job = make_job(park)
    response = alice.post(cancel(job), {"next": "https://evil.example/"})
    assert response.url == detail(job)
    other = make_job(park)
    response = alice.post(cancel(other), {"next": reverse("my_jobs")})
    assert response.url == reverse("my_jobs")


def test_job_reasons_are_codes_rendered_in_the_readers_language():
    from django.utils import translation

    from booking.compute.models import ComputeJob
    from booking.compute.reasons import job_reason_for

    exited = ComputeJob(reason_code="script_exit", reason_params={"code": 137}, reason="x")
    refused = ComputeJob(
        reason_code="slurm_refused",
        reason_params={"message": "Invalid account", "error_code": 2045},
    )
    held = ComputeJob(reason_code="slurm_state", reason="JobHeldAdmin: held by the operator")
    with translation.override("zh-hans"):
        assert job_reason_for(exited) == "脚本以退出码 137 结束。"
        assert job_reason_for(refused) == "Slurm 拒绝了此作业：Invalid account (Slurm error 2045)"
        # Slurm's own words stay as Slurm wrote them.
        assert job_reason_for(held) == "JobHeldAdmin: held by the operator"
    with translation.override("en"):
        assert job_reason_for(exited) == "The script exited with code 137."


def test_the_migration_reads_the_codes_of_reasons_stored_as_sentences():
    import importlib

    migration = importlib.import_module("booking.compute.migrations.0002_job_reason_codes")
    read = migration.reason_code_of
    assert read("The script exited with code 137.") == ("script_exit", {"code": 137})
    assert read("Slurm refused the job: Invalid account (Slurm error 2045)") == (
        "slurm_refused",
        {"message": "Invalid account", "error_code": 2045},
    )
    assert read("Slurm refused the job: bad") == (
        "slurm_refused",
        {"message": "bad", "error_code": None},
    )
    assert read("Cancelled before it reached Slurm.") == ("cancelled_before_slurm", {})
    assert read("Cancelled.") == ("cancelled", {})
    assert read("NODE_FAIL: node gpu01 died") == (
        "slurm_state",
        {"state": "NODE_FAIL", "detail": "node gpu01 died"},
    )
    assert read("tenant: you are not a member of this tenant.") == ("", {})
