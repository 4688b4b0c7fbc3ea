"""Compute jobs through the API: submit (idempotent), list, read, cancel; cross-tenant 404."""

from __future__ import annotations

import pytest

from booking.models import ComputeJob, JobState
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


def test_job_scope_is_needed_to_submit(park):
    api = Api(make_token(park.alice, park.acme, scopes=["read", "book"]))
    assert_error(api.post("/jobs", job()), 403, "insufficient_scope")
    assert not ComputeJob.objects.exists()


def test_expired_token_cannot_list_jobs(park):
    from django.utils import timezone

    from booking.models import ApiToken

    api = Api(make_token(park.alice, park.acme))
    ApiToken.objects.update(expires_at=timezone.now())
    assert_error(api.get("/jobs"), 401, "invalid_token")


def test_submit_without_a_configured_cluster_is_503_not_500(park, settings, monkeypatch):
    monkeypatch.undo()  # back to the real client factory, with no cluster configured
    settings.SLURM_REST_URL = ""
    api = Api(make_token(park.alice, park.acme))
    assert_error(api.post("/jobs", job()), 503, "unavailable")
    assert not ComputeJob.objects.exists()
