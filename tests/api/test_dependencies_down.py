"""The API with a dependency down: the queue (a stored job still answers 201 and is sent by the
sweep later), the database (JSON 503 with Retry-After), the cache (the rate limiter fails open
with a log line); under DEBUG=0 every API error is in the JSON error shape, never HTML."""

from __future__ import annotations

import logging

import pytest
from django.db import OperationalError
from django.test import Client

from booking.compute.models import ComputeJob, JobState
from tests.api.test_jobs import job

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def no_cluster(unreachable_cluster):
    return unreachable_cluster


def test_a_stored_job_answers_201_when_the_queue_is_unreachable(
    alice_api, monkeypatch, caplog, django_capture_on_commit_callbacks
):
    import booking.compute.services

    def queue_down(*args, **kwargs):
        raise ConnectionError("Error 111 connecting to 127.0.0.1:6379. Connection refused.")

    monkeypatch.setattr(booking.compute.services, "job_send_soon", queue_down)
    with caplog.at_level(logging.WARNING), django_capture_on_commit_callbacks(execute=True):
        response = alice_api.post("/jobs", job())
    assert response.status_code == 201, response.content
    stored = ComputeJob.objects.get()
    assert stored.state == JobState.QUEUED and stored.next_attempt_at is None
    assert "could not be queued" in caplog.text
    # The sweep takes it (it is due: no attempt yet).
    from booking.compute.sending import jobs_send_due

    class Accepting:
        def submit(self, spec, *, user=None, reconcile=None):
            return 4711

    assert jobs_send_due(client=Accepting()) == 1
    stored.refresh_from_db()
    assert stored.state == JobState.PENDING and stored.slurm_job_id == 4711


def test_database_down_is_a_json_503_with_retry_after(alice_api, monkeypatch):
    import booking.tokens.auth

    def down(**kwargs):
        raise OperationalError('connection to server at "127.0.0.1", port 5432 failed')

    monkeypatch.setattr(booking.tokens.auth, "api_token_authenticate", down)
    response = alice_api.get("/jobs")
    assert response.status_code == 503
    assert response["Retry-After"] == "5"
    assert response.json()["code"] == "database_unavailable"


def test_database_down_outside_the_api_handlers_is_still_json(settings, monkeypatch):
    settings.DEBUG = False
    import django.contrib.sessions.backends.db as sessions

    def down(self, *args, **kwargs):
        raise OperationalError("server closed the connection unexpectedly")

    monkeypatch.setattr(sessions.SessionStore, "load", down)
    client = Client(raise_request_exception=False)
    client.cookies["sessionid"] = "x" * 32
    response = client.get("/api/v1/jobs")
    assert response.status_code == 503
    assert response["Content-Type"].startswith("application/json")
    assert response.json()["code"] == "database_unavailable"
    assert response["Retry-After"] == "5"


def test_the_rate_limiter_fails_open_when_the_cache_is_down(
    alice_api, settings, monkeypatch, caplog
):
    settings.API_RATE_LIMIT_PER_MINUTE = 1
    import config.ratelimit

    class DownCache:
        def add(self, *args, **kwargs):
            raise ConnectionError("Connection refused")

        incr = set = get_many = decr = delete_many = add

    monkeypatch.setattr(config.ratelimit, "cache", DownCache())
    with caplog.at_level(logging.WARNING):
        answers = [alice_api.get("/jobs").status_code for _ in range(3)]
    assert answers == [200, 200, 200]
    assert "rate limit not applied" in caplog.text


def test_under_debug_0_api_errors_are_json(settings, alice_api):
    settings.DEBUG = False
    client = Client(raise_request_exception=False)
    for path in ("/api/v1/no-such-thing", "/api/v1/jobs/999999/nothing"):
        response = client.get(path, headers={"Authorization": f"Bearer {alice_api.secret}"})
        assert response.status_code == 404
        assert response["Content-Type"].startswith("application/json")
        assert response.json()["code"] == "not_found"
    # A page outside the API keeps its HTML.
    assert "text/html" in client.get("/no-such-page").headers["Content-Type"]
