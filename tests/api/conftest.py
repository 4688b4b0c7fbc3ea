"""Fixtures for the researcher API: tokens for alice (Acme) and charlie (Globex), a client
that sends them, and a fresh rate-limit cache per test."""

from __future__ import annotations

import datetime as dt
import itertools

import pytest
from django.test import Client
from django.utils import timezone

from booking.field_labels import field_label

_cache_ids = itertools.count()


@pytest.fixture(autouse=True)
def fresh_api_cache(settings):
    # Rate-limit counters must not leak between tests (token ids are reused after rollback).
    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.locmem.LocMemCache",
            "LOCATION": f"api-tests-{next(_cache_ids)}",
        }
    }
    settings.API_RATE_LIMIT_PER_MINUTE = 1000


def make_token(user, tenant, scopes=("read", "book", "jobs"), days=30, name="script"):
    from booking.tokens.services import api_token_create

    _token, secret = api_token_create(
        user=user,
        tenant=tenant,
        name=name,
        scopes=list(scopes),
        expires_at=timezone.now() + dt.timedelta(days=days),
    )
    return secret


class Api:
    """A test client speaking to /api/v1/ with a bearer token."""

    def __init__(self, secret: str | None):
        self.client = Client()
        self.secret = secret

    def _headers(self, headers):
        result = dict(headers or {})
        if self.secret:
            result.setdefault("Authorization", f"Bearer {self.secret}")
        return result

    def get(self, path, params=None, headers=None):
        return self.client.get(f"/api/v1{path}", params or {}, headers=self._headers(headers))

    def post(self, path, data=None, headers=None, raw=None):
        body = raw if raw is not None else data
        return self.client.post(
            f"/api/v1{path}",
            body if raw is not None else (data or {}),
            content_type="application/json",
            headers=self._headers(headers),
        )


@pytest.fixture
def alice_api(park) -> Api:
    return Api(make_token(park.alice, park.acme))


@pytest.fixture
def bob_api(park) -> Api:
    return Api(make_token(park.bob, park.acme))


@pytest.fixture
def charlie_api(park) -> Api:
    return Api(make_token(park.charlie, park.globex))


def assert_error(response, status: int, code: str | None = None, field: str | None = None):
    assert response.status_code == status, response.content
    body = response.json()
    # The shape every client knows, plus the rule's values (``params``, an addition).
    assert set(body) == {"code", "message", "field", "details", "params"}, body
    assert isinstance(body["params"], dict), body
    assert body["message"]
    if code is not None:
        assert body["code"] == code, body
    if field is not None:
        assert body["field"] == field, body
        # The message names the field by its label (English here), not by its code.
        assert field_label(field) in body["message"], body
    return body


def next_hour(days: int = 1, hour: int = 10) -> dt.datetime:
    """A slot start on the hour, ``days`` ahead in the park's time zone."""
    local = timezone.localtime() + dt.timedelta(days=days)
    return local.replace(hour=hour, minute=0, second=0, microsecond=0)


@pytest.fixture
def unreachable_cluster(monkeypatch):
    """Jobs are checked and stored without a cluster answering (the job services then skip the
    partition-limit check); the real cluster is exercised in tests/slurm."""
    import httpx

    from booking.compute import slurm as jobs
    from resources.slurm.client import SlurmClient, SlurmConfig

    def refuse(request):
        raise httpx.ConnectError("no cluster in API tests", request=request)

    client = SlurmClient(
        SlurmConfig(base_url="http://slurm.invalid", user="park", token="t", retries=0),
        transport=httpx.MockTransport(refuse),
        sleep=lambda _s: None,
    )
    monkeypatch.setattr(jobs, "slurm_client", lambda: client)
    return client
