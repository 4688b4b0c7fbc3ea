"""Compute jobs through the API: submit (idempotent), list, read, cancel; cross-tenant 404."""

from __future__ import annotations

import pytest

from booking.compute.models import ComputeJob, JobState
from tests.api.conftest import Api, assert_error, make_token

SCRIPT = "#!/bin/bash\nnvidia-smi\n"


def job(**extra):
    return {
        "name": "smoke",
        "script": SCRIPT,
        "partition": "gpu",
        "gpus": 1,
        "time_limit_minutes": 30,
        **extra,
    }


@pytest.fixture(autouse=True)
def no_cluster(unreachable_cluster):
    return unreachable_cluster


def test_submit_stores_a_queued_job(alice_api):
    response = alice_api.post("/jobs", job())
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["state"] == "queued"
    assert body["tenant"] == "acme" and body["user"] == "alice"
    assert body["partition"] == "gpu" and body["gpus"] == 1
    assert ComputeJob.objects.get().state == JobState.QUEUED


def test_submit_in_a_pool_takes_the_pools_partition(alice_api):
    response = alice_api.post("/jobs", job(partition=None, pool="any-a100"))
    assert response.status_code == 201, response.content
    assert response.json()["pool"] == "any-a100"


def test_submit_refusals_name_the_field(alice_api):
    assert_error(
        alice_api.post("/jobs", job(script="echo hi")), 400, "script_needs_shebang", "script"
    )
    assert_error(alice_api.post("/jobs", job(gpus=65)), 422, "validation_error", "gpus")
    assert_error(alice_api.post("/jobs", job(script="#!\x00")), 422, "validation_error", "script")
    assert_error(
        alice_api.post("/jobs", job(time_limit_minutes=None)),
        422,
        "validation_error",
        "time_limit_minutes",
    )
    assert_error(alice_api.post("/jobs", job(pool="nope")), 422, "unknown_pool", "pool")
    assert_error(alice_api.post("/jobs", job(booking=99)), 422, "unknown_booking", "booking")
    assert not ComputeJob.objects.exists()


def test_submit_over_quota_is_refused(alice_api):
    # 100 GPU-hours a week: 4 GPUs × 30 h is too much.
    assert_error(
        alice_api.post("/jobs", job(gpus=4, time_limit_minutes=30 * 60)), 400, "quota_exceeded"
    )


def test_submit_is_idempotent(alice_api):
    headers = {"Idempotency-Key": "job-42"}
    first = alice_api.post("/jobs", job(), headers=headers)
    second = alice_api.post("/jobs", job(), headers=headers)
    assert first.status_code == second.status_code == 201
    assert first.json() == second.json()
    assert ComputeJob.objects.count() == 1
    assert_error(
        alice_api.post("/jobs", job(name="other"), headers=headers), 422, "idempotency_key_reused"
    )


def test_list_and_read_jobs(alice_api):
    ids = [alice_api.post("/jobs", job(name=f"j{i}")).json()["id"] for i in range(3)]
    listed = alice_api.get("/jobs", {"limit": 2}).json()
    assert listed["count"] == 3
    assert [j["id"] for j in listed["items"]] == sorted(ids, reverse=True)[:2]
    assert alice_api.get("/jobs", {"state": "running"}).json()["count"] == 0
    assert_error(alice_api.get("/jobs", {"state": "asleep"}), 422, "validation_error", "state")
    assert alice_api.get(f"/jobs/{ids[0]}").json()["name"] == "j0"


def test_charlie_gets_404_for_alices_job(alice_api, charlie_api):
    created = alice_api.post("/jobs", job()).json()
    assert_error(charlie_api.get(f"/jobs/{created['id']}"), 404, "not_found")
    assert_error(charlie_api.post(f"/jobs/{created['id']}/cancel"), 404, "not_found")
    assert charlie_api.get("/jobs").json()["count"] == 0
    assert ComputeJob.objects.get().state == JobState.QUEUED


def test_cancel_a_queued_job(alice_api):
    created = alice_api.post("/jobs", job()).json()
    response = alice_api.post(f"/jobs/{created['id']}/cancel")
    assert response.status_code == 200
    assert response.json()["state"] == "cancelled"
    assert_error(alice_api.post(f"/jobs/{created['id']}/cancel"), 409, "job_not_live")


def test_cancel_of_a_job_in_slurm_answers_at_once_and_shows_it_cancelling(
    alice_api, django_capture_on_commit_callbacks, monkeypatch
):
    from booking.compute.tasks import job_cancel_task

    created = alice_api.post("/jobs", job()).json()
    ComputeJob.objects.filter(pk=created["id"]).update(state=JobState.RUNNING, slurm_job_id=4242)
    with django_capture_on_commit_callbacks(execute=False) as queued:
        response = alice_api.post(f"/jobs/{created['id']}/cancel")
    assert response.status_code == 200
    body = response.json()
    assert body["state"] == "running" and body["cancelling"] is True
    assert len(queued) == 1
    # The worker finds Slurm unreachable (the test cluster refuses): it tries again later.
    later = []
    monkeypatch.setattr(job_cancel_task, "schedule", lambda args, eta: later.append(args))
    queued[0]()
    assert later == [(created["id"],)]
    again = alice_api.get(f"/jobs/{created['id']}").json()
    assert again["state"] == "running" and again["cancelling"] is True
    assert alice_api.post(f"/jobs/{created['id']}/cancel").status_code == 200


def test_job_scope_is_needed_to_submit(park):
    api = Api(make_token(park.alice, park.acme, scopes=["read", "book"]))
    assert_error(api.post("/jobs", job()), 403, "insufficient_scope")
    assert not ComputeJob.objects.exists()


def test_expired_token_cannot_list_jobs(park):
    from django.utils import timezone

    from booking.tokens.models import ApiToken

    api = Api(make_token(park.alice, park.acme))
    ApiToken.objects.update(expires_at=timezone.now())
    assert_error(api.get("/jobs"), 401, "invalid_token")


def test_submit_without_a_configured_cluster_is_503_not_500(park, settings, monkeypatch):
    monkeypatch.undo()  # back to the real client factory, with no cluster configured
    settings.SLURM_REST_URL = ""
    api = Api(make_token(park.alice, park.acme))
    assert_error(api.post("/jobs", job()), 503, "unavailable")
    assert not ComputeJob.objects.exists()


# ---- output ---------------------------------------------------------------------------------


def ran(api, workdir, data: bytes | None, slurm_job_id=4242) -> ComputeJob:
    """A job of the token's user that Slurm ran, with ``data`` as its output file (if any)."""
    created = api.post("/jobs", job()).json()
    ComputeJob.objects.filter(pk=created["id"]).update(
        state=JobState.COMPLETED, slurm_job_id=slurm_job_id, exit_code=0
    )
    stored = ComputeJob.objects.get(pk=created["id"])
    if data is not None:
        (workdir / f"{stored.slurm_name}-{slurm_job_id}.out").write_bytes(data)
    return stored


@pytest.fixture
def workdir(settings, tmp_path):
    settings.SLURM_JOB_WORKDIR = str(tmp_path)
    return tmp_path


def test_output_returns_the_tail_of_the_jobs_output(alice_api, workdir):
    stored = ran(alice_api, workdir, b"step 1\nstep 2 \xe2\x9c\x93\n")
    response = alice_api.get(f"/jobs/{stored.pk}/output")
    assert response.status_code == 200, response.content
    assert response.json() == {
        "job_id": stored.pk,
        "readable": True,
        "output": "step 1\nstep 2 ✓\n",
        "truncated": False,
    }


def test_output_longer_than_64_kib_is_cut_to_its_end(alice_api, workdir):
    # The 64 KiB cut falls inside a three-byte character: the answer starts at the next one.
    data = b"HEAD\n" + "✓".encode() * 30_000 + b"\nTAIL\n"
    stored = ran(alice_api, workdir, data)
    body = alice_api.get(f"/jobs/{stored.pk}/output").json()
    assert body["readable"] is True and body["truncated"] is True
    assert body["output"].endswith("\nTAIL\n") and "HEAD" not in body["output"]
    assert "\ufffd" not in body["output"]
    assert len(body["output"].encode()) <= 64 * 1024


def test_output_not_readable_here_is_null(alice_api, workdir):
    queued = alice_api.post("/jobs", job()).json()  # no Slurm id yet
    assert alice_api.get(f"/jobs/{queued['id']}/output").json() == {
        "job_id": queued["id"],
        "readable": False,
        "output": None,
        "truncated": False,
    }
    stored = ran(alice_api, workdir, None)  # ran, but its file is not on this host
    body = alice_api.get(f"/jobs/{stored.pk}/output").json()
    assert body["readable"] is False and body["output"] is None


def test_charlie_gets_404_for_alices_output(alice_api, charlie_api, workdir):
    stored = ran(alice_api, workdir, b"alice's secret results\n")
    assert_error(charlie_api.get(f"/jobs/{stored.pk}/output"), 404, "not_found")


def test_a_manager_reads_a_members_output_a_member_not_another_members(
    park, alice_api, bob_api, workdir
):
    stored = ran(alice_api, workdir, b"alice run\n")
    assert bob_api.get(f"/jobs/{stored.pk}/output").json()["output"] == "alice run\n"
    bobs = ran(bob_api, workdir, b"bob run\n", slurm_job_id=4243)
    assert_error(alice_api.get(f"/jobs/{bobs.pk}/output"), 404, "not_found")


def test_output_of_an_unknown_or_malformed_id_is_404_or_422(alice_api):
    assert_error(alice_api.get("/jobs/999/output"), 404, "not_found")
    assert_error(alice_api.get("/jobs/abc/output"), 422, "validation_error", "job_id")
    assert_error(alice_api.get("/jobs/0/output"), 422, "validation_error", "job_id")


def test_output_needs_the_read_scope_and_a_live_token(park, alice_api, workdir):
    from django.utils import timezone

    from booking.tokens.models import ApiToken

    stored = ran(alice_api, workdir, b"done\n")
    jobs_only = Api(make_token(park.alice, park.acme, scopes=["jobs"], name="jobs only"))
    assert_error(jobs_only.get(f"/jobs/{stored.pk}/output"), 403, "insufficient_scope")
    ApiToken.objects.update(expires_at=timezone.now())
    assert_error(alice_api.get(f"/jobs/{stored.pk}/output"), 401, "invalid_token")
    assert_error(Api(None).get(f"/jobs/{stored.pk}/output"), 401)


def test_output_is_declared_in_the_openapi_document(alice_api):
    operation = alice_api.get("/openapi.json").json()["paths"]["/api/v1/jobs/{job_id}/output"]
    declared = set(operation["get"]["responses"])
    assert {"200", "401", "403", "404", "422", "429"} <= declared and "409" not in declared


def test_an_error_carries_the_values_its_rule_names(alice_api):
    from tests.api.conftest import assert_error

    created = alice_api.post("/jobs", job()).json()
    alice_api.post(f"/jobs/{created['id']}/cancel")
    body = assert_error(alice_api.post(f"/jobs/{created['id']}/cancel"), 409, "job_not_live")
    assert body["params"] == {"state": "Cancelled"}
    assert "Cancelled" in body["message"]
