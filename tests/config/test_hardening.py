"""Hardening at the edge: request bodies over the limit, sign-in throttling, bad tokens, the
sliding-window API limit, security headers and the Content-Security-Policy."""

from __future__ import annotations

import os
import re
import secrets
import subprocess
import sys
import time
from pathlib import Path

import pytest
from django.test import Client

from config import ratelimit
from tests.api.conftest import Api, assert_error, make_token

ROOT = Path(__file__).resolve().parents[2]


# ---------------------------------------------------------------- the sliding window


@pytest.fixture(params=["local memory", "redis"])
def limiter_cache(request, settings):
    """The limiter on each cache it runs on: local memory (development) and Redis (production:
    one pipelined round trip per hit)."""
    if request.param == "redis":
        import uuid

        import redis

        from tests.conftest import require_or_skip

        url = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/15")
        try:
            redis.Redis.from_url(url, socket_connect_timeout=2).ping()
        except redis.RedisError as error:
            require_or_skip(f"Redis not reachable at {url}: {error}")
        settings.CACHES = {
            "default": {
                "BACKEND": "django.core.cache.backends.redis.RedisCache",
                "LOCATION": url,
                "KEY_PREFIX": f"test-{uuid.uuid4().hex}",
            }
        }
    return request.param


def test_no_span_of_the_period_holds_more_than_the_limit(db, limiter_cache):
    # Fill the allowance just before a clock-minute boundary; just after it nothing more is
    # allowed (a per-minute counter allowed the limit again here: twice the limit in 2 s).
    start = 60 * 1000 + 59.0
    for i in range(5):
        assert ratelimit.hit("t", "k", limit=5, period=60, now=start + i * 0.1).allowed
    after = ratelimit.hit("t", "k", limit=5, period=60, now=start + 1.5)
    assert not after.allowed
    assert 1 <= after.retry_after <= 60 + 60 / ratelimit.SLICES
    # Refused hits are not counted: once the filled slice has left the window, hits pass.
    assert ratelimit.hit("t", "k", limit=5, period=60, now=start + 1.5 + after.retry_after).allowed
    # Another key is counted apart.
    assert ratelimit.hit("t", "other", limit=5, period=60, now=start + 1.5).allowed


def test_api_limit_does_not_double_across_a_minute_boundary(park, settings, monkeypatch):
    settings.API_RATE_LIMIT_PER_MINUTE = 3
    api = Api(make_token(park.alice, park.acme))
    clock = {"now": 60 * 500 + 59.8}
    monkeypatch.setattr(time, "time", lambda: clock["now"])
    assert [api.get("/me").status_code for _ in range(3)] == [200, 200, 200]
    clock["now"] += 0.4  # a new clock minute
    response = api.get("/me")
    assert_error(response, 429, "rate_limited")
    assert int(response["Retry-After"]) >= 59


def test_bad_tokens_are_rate_limited_per_address(park, settings):
    settings.API_BAD_TOKEN_LIMIT_PER_MINUTE = 3
    good = make_token(park.alice, park.acme)
    bad = Api("park_nothere_" + "x" * 30)
    for _ in range(3):
        assert_error(bad.get("/me"), 401, "invalid_token")
    response = bad.get("/me")
    assert_error(response, 429, "rate_limited")
    assert int(response["Retry-After"]) >= 1
    # The address is held, also for a good token sent from it ...
    assert Api(good).get("/me").status_code == 429
    # ... but another address is not.
    other = Client(REMOTE_ADDR="10.0.0.9")
    response = other.get("/api/v1/me", headers={"Authorization": f"Bearer {good}"})
    assert response.status_code == 200


# ---------------------------------------------------------------- bodies over the limit


def test_api_body_over_the_limit_answers_json_413(park, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 10_000
    api = Api(make_token(park.alice, park.acme))
    response = api.post("/bookings", raw='{"title": "' + "x" * 20_000 + '"}')
    body = assert_error(response, 413, "payload_too_large")
    assert body["details"] == {"limit_bytes": 10_000}


def test_ui_body_over_the_limit_answers_a_page_in_the_readers_language(db, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 10_000
    client = Client()
    data = {"username": "x", "password": "y" * 20_000}
    response = client.post("/accounts/login/", data)
    assert response.status_code == 413
    assert b"<html" in response.content and b"10000" in response.content
    response = client.post("/accounts/login/", data, headers={"Accept-Language": "zh-hant"})
    assert response.status_code == 413
    assert "請求" in response.content.decode()


# ---------------------------------------------------------------- sign-in throttling


def _sign_in(client, username, password, **headers):
    return client.post(
        "/accounts/login/", {"username": username, "password": password}, headers=headers
    )


def test_sign_in_is_held_after_failures_for_the_account_even_with_the_right_password(
    park, settings
):
    settings.SIGNIN_FAILURES_PER_ACCOUNT = 3
    for n in range(3):
        client = Client(REMOTE_ADDR=f"10.1.0.{n}")  # each from its own address
        assert _sign_in(client, "alice", "wrong").status_code == 200
    client = Client(REMOTE_ADDR="10.1.0.99")
    response = _sign_in(client, "Alice", "pw-alice")
    assert response.status_code == 200
    assert "_auth_user_id" not in client.session
    assert "Too many failed sign-ins" in response.content.decode()
    # Another account is not held.
    response = _sign_in(client, "bob", "pw-bob")
    assert response.status_code == 302


def test_sign_in_is_held_per_address_in_the_readers_language(park, settings):
    settings.SIGNIN_FAILURES_PER_ADDRESS = 4
    client = Client(REMOTE_ADDR="10.2.0.1")
    for n in range(4):
        _sign_in(client, f"nobody{n}", "wrong")
    response = _sign_in(client, "bob", "pw-bob", **{"Accept-Language": "zh-hans"})
    assert "_auth_user_id" not in client.session
    assert "登录失败次数过多" in response.content.decode()
    # From another address bob signs in.
    assert _sign_in(Client(REMOTE_ADDR="10.2.0.2"), "bob", "pw-bob").status_code == 302


def test_admin_sign_in_is_throttled_too(park, settings):
    settings.SIGNIN_FAILURES_PER_ACCOUNT = 2
    client = Client()
    for _ in range(2):
        client.post("/admin/login/", {"username": "olga", "password": "wrong"})
    response = client.post(
        "/admin/login/?next=/admin/", {"username": "olga", "password": "pw-olga"}
    )
    assert response.status_code == 200
    assert "Too many failed sign-ins" in response.content.decode()


# ---------------------------------------------------------------- headers and production


def test_pages_send_a_content_security_policy_without_inline_scripts(db):
    response = Client().get("/accounts/login/")
    policy = response["Content-Security-Policy"]
    script_src = re.search(r"script-src ([^;]*)", policy).group(1)
    assert "'self'" in script_src and "unsafe" not in script_src
    assert "frame-ancestors 'none'" in policy and "object-src 'none'" in policy


def test_templates_hold_no_inline_scripts_or_event_handlers():
    # The policy forbids them, so the browser would ignore them.
    offenders = []
    for path in (ROOT / "templates").rglob("*.html"):
        text = path.read_text(encoding="utf-8")
        if re.search(r"\son[a-z]+\s*=", text) or re.search(
            r"<script(?![^>]*\bsrc=)(?![^>]*application/json)", text
        ):
            offenders.append(str(path.relative_to(ROOT)))
        if "javascript:" in text:
            offenders.append(str(path.relative_to(ROOT)))
    assert offenders == []


def _production_env(tmp_path, **extra) -> dict:
    env = {
        k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "SECURE_", "SLURM_"))
    }
    env.update(
        DEBUG="0",
        SECRET_KEY=secrets.token_urlsafe(50),
        ALLOWED_HOSTS="park.example,testserver",
        PARK_VAR_DIR=str(tmp_path),
        DATABASE_URL=f"sqlite:///{tmp_path / 'db.sqlite3'}",
        DJANGO_SETTINGS_MODULE="config.settings",
        REDIS_URL="",
    )
    env.update(extra)
    return env


@pytest.mark.slow
def test_production_settings_pass_check_deploy(tmp_path):
    result = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=ROOT,
        env=_production_env(tmp_path),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.slow
def test_production_answers_with_hsts_and_redirects_to_https(tmp_path):
    script = (
        "import django; django.setup()\n"
        "from django.test import Client\n"
        "c = Client()\n"
        "plain = c.get('/accounts/login/')\n"
        "print('redirect', plain.status_code, plain.get('Location'))\n"
        "secure = c.get('/healthz', secure=True)\n"
        "print('hsts', secure.get('Strict-Transport-Security'))\n"
        "from django.conf import settings as s\n"
        "print('cookies-secure', s.SESSION_COOKIE_SECURE and s.CSRF_COOKIE_SECURE)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", script],
        cwd=ROOT,
        env=_production_env(tmp_path),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "redirect 301 https://testserver/accounts/login/" in out
    assert "hsts max-age=31536000; includeSubDomains; preload" in out
    assert "cookies-secure True" in out


@pytest.mark.slow
@pytest.mark.parametrize(
    "extra, words",
    [
        ({"SECRET_KEY": "short"}, "SECRET_KEY is too weak"),
        ({"ALLOWED_HOSTS": ""}, "ALLOWED_HOSTS must be set"),
        ({"LOG_FORMAT": "xml"}, "LOG_FORMAT must be json or text"),
    ],
)
def test_production_start_refuses_bad_settings_with_a_clear_message(tmp_path, extra, words):
    result = subprocess.run(
        [sys.executable, "manage.py", "check"],
        cwd=ROOT,
        env=_production_env(tmp_path, **extra),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode != 0
    assert words in result.stderr
