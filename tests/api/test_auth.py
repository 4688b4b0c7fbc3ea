"""Personal tokens, session auth with CSRF, the rate limit, the docs and the error shape."""

from __future__ import annotations

import datetime as dt
import hashlib

import pytest
from django.test import Client
from django.utils import timezone

from booking.errors import ParkError
from booking.tenancy.models import Membership
from booking.tokens.models import ApiToken
from booking.tokens.services import api_token_create, api_token_revoke
from tests.api.conftest import Api, assert_error, make_token


def test_token_secret_is_stored_only_as_a_hash(park):
    token, secret = api_token_create(
        user=park.alice,
        tenant=park.acme,
        name="laptop",
        scopes=["read"],
        expires_at=timezone.now() + dt.timedelta(days=7),
    )
    token.refresh_from_db()
    assert secret.startswith(f"park_{token.prefix}_")
    assert secret not in str(ApiToken.objects.filter(pk=token.pk).values().get())
    assert token.secret_hash == hashlib.sha256(secret.encode()).hexdigest()


def test_it_refuses_a_token_for_a_tenant_the_user_is_not_in(park):
    with pytest.raises(ParkError) as err:
        api_token_create(
            user=park.alice,
            tenant=park.globex,
            name="x",
            scopes=["read"],
            expires_at=timezone.now() + dt.timedelta(days=7),
        )
    assert err.value.status == 404


@pytest.mark.parametrize(
    "kwargs, field",
    [
        ({"name": " "}, "name"),
        ({"scopes": []}, "scopes"),
        ({"scopes": ["admin"]}, "scopes"),
        ({"expires_at": "past"}, "expires_at"),
        ({"expires_at": "far"}, "expires_at"),
    ],
)
def test_token_creation_names_the_field_at_fault(park, kwargs, field):
    args = {
        "user": park.alice,
        "tenant": park.acme,
        "name": "ok",
        "scopes": ["read"],
        "expires_at": timezone.now() + dt.timedelta(days=7),
    }
    if kwargs.get("expires_at") == "past":
        kwargs["expires_at"] = timezone.now() - dt.timedelta(minutes=1)
    elif kwargs.get("expires_at") == "far":
        kwargs["expires_at"] = timezone.now() + dt.timedelta(days=400)
    args.update(kwargs)
    with pytest.raises(ParkError) as err:
        api_token_create(**args)
    assert err.value.field == field
    assert not ApiToken.objects.exists()


def test_me_answers_the_tokens_user_tenant_and_scopes(park):
    api = Api(make_token(park.alice, park.acme, scopes=["read"]))
    body = api.get("/me").json()
    assert body["username"] == "alice"
    assert body["tenant"] == "acme"
    assert body["scopes"] == ["read"]
    assert body["auth"] == "token"
    assert ApiToken.objects.get().last_used_at is not None


def test_no_token_is_401(park):
    assert_error(Api(None).get("/me"), 401, "not_authenticated")


def test_unknown_token_is_401(park):
    assert_error(Api("park_000000000000_nope").get("/me"), 401, "invalid_token")
    assert_error(Api("garbage").get("/me"), 401, "invalid_token")


def test_a_tampered_secret_is_401(park):
    secret = make_token(park.alice, park.acme)
    assert_error(Api(secret[:-2] + "xx").get("/me"), 401, "invalid_token")


def test_expired_token_is_401(park):
    secret = make_token(park.alice, park.acme)
    ApiToken.objects.update(expires_at=timezone.now() - dt.timedelta(seconds=1))
    assert_error(Api(secret).get("/me"), 401, "invalid_token")


def test_revoked_token_is_401(park):
    secret = make_token(park.alice, park.acme)
    api_token_revoke(token=ApiToken.objects.get(), actor=park.alice)
    assert_error(Api(secret).get("/me"), 401, "invalid_token")


def test_token_stops_working_when_its_user_leaves_the_tenant(park):
    secret = make_token(park.alice, park.acme)
    Membership.objects.filter(user=park.alice, tenant=park.acme).delete()
    assert_error(Api(secret).get("/me"), 401, "invalid_token")


def test_read_only_token_cannot_book_or_submit_jobs(park):
    api = Api(make_token(park.alice, park.acme, scopes=["read"]))
    assert_error(
        api.post("/bookings", {"resource": "gpu01", "title": "x"}), 403, "insufficient_scope"
    )
    assert_error(api.post("/jobs", {"name": "x"}), 403, "insufficient_scope")
    assert_error(api.post("/bookings/1/cancel"), 403, "insufficient_scope")


def test_book_only_token_cannot_read(park):
    api = Api(make_token(park.alice, park.acme, scopes=["book"]))
    assert_error(api.get("/bookings"), 403, "insufficient_scope")


# ---------------------------------------------------------------- session auth and CSRF


def test_session_auth_works_for_reads(park):
    client = Client()
    client.force_login(park.alice)
    response = client.get("/api/v1/me")
    assert response.status_code == 200
    assert response.json()["auth"] == "session"
    assert response.json()["tenant"] == "acme"


def test_session_post_without_csrf_token_is_refused(park):
    client = Client(enforce_csrf_checks=True)
    client.force_login(park.alice)
    response = client.post(
        "/api/v1/bookings", {"resource": "gpu01", "title": "x"}, content_type="application/json"
    )
    assert_error(response, 403, "csrf_failed")


def test_session_post_with_csrf_token_passes_auth(park):
    client = Client(enforce_csrf_checks=True)
    client.force_login(park.alice)
    client.get("/account/tokens/")  # sets the CSRF cookie like any page
    token = client.cookies["csrftoken"].value
    response = client.post(
        "/api/v1/bookings",
        {"resource": "gpu01", "title": "x"},
        content_type="application/json",
        headers={"X-CSRFToken": token},
    )
    # Past auth and CSRF: the booking rules answer (no start/end given).
    assert_error(response, 400, "start_required", "start")


def test_session_user_with_several_tenants_must_name_one(park):
    Membership.objects.create(user=park.alice, tenant=park.globex)
    client = Client()
    client.force_login(park.alice)
    assert_error(client.get("/api/v1/me"), 400, "tenant_required", "tenant")
    assert client.get("/api/v1/me?tenant=globex").json()["tenant"] == "globex"


def test_session_user_naming_a_foreign_tenant_gets_404(park):
    client = Client()
    client.force_login(park.alice)
    assert_error(client.get("/api/v1/me?tenant=globex"), 404, "not_found")
    assert_error(client.get("/api/v1/me?tenant=ac%00me"), 404, "not_found")


# ---------------------------------------------------------------- rate limit


def test_rate_limit_answers_429_with_retry_after(park, settings):
    settings.API_RATE_LIMIT_PER_MINUTE = 3
    api = Api(make_token(park.alice, park.acme))
    other = Api(make_token(park.charlie, park.globex))
    for _ in range(3):
        assert api.get("/me").status_code == 200
    response = api.get("/me")
    body = assert_error(response, 429, "rate_limited")
    assert 1 <= int(response["Retry-After"]) <= 60
    assert body["details"]["retry_after"] == int(response["Retry-After"])
    # The limit is per token: another token is unaffected.
    assert other.get("/me").status_code == 200


# ---------------------------------------------------------------- docs and errors


def test_docs_answer_at_api_docs_and_under_the_version(park):
    client = Client()
    docs = client.get("/api/docs")
    assert docs.status_code == 200
    # Swagger UI comes from the app's own static files: the park may run without internet.
    assert "/static/ninja/swagger-ui-bundle.js" in docs.content.decode()
    assert "cdn." not in docs.content.decode()
    assert client.get("/api/v1/docs").status_code == 200
    schema = client.get("/api/v1/openapi.json").json()
    assert schema["info"]["title"] == "Park booking API"
    assert schema["info"]["version"] == "1"


def test_openapi_declares_every_error_status(park):
    schema = Client().get("/api/v1/openapi.json").json()
    create = schema["paths"]["/api/v1/bookings"]["post"]["responses"]
    assert {"201", "400", "401", "403", "404", "409", "422", "429"} <= set(create)
    assert create["422"]["content"]["application/json"]["schema"]["$ref"].endswith("ErrorOut")


def test_malformed_json_is_400_in_the_error_shape(alice_api):
    assert_error(alice_api.post("/bookings", raw="{not json"), 400, "bad_request")


def test_unknown_field_is_422_naming_it(alice_api):
    body = assert_error(
        alice_api.post("/bookings", {"resource": "gpu01", "title": "x", "colour": "red"}),
        422,
        "validation_error",
        "colour",
    )
    assert body["details"][0]["type"] == "extra_forbidden"


def test_nul_byte_in_text_is_422(alice_api):
    assert_error(
        alice_api.post("/bookings", {"resource": "gpu01", "title": "a\x00b"}),
        422,
        "validation_error",
        "title",
    )


# ---------------------------------------------------------------- the token page


def test_token_page_needs_login(park):
    response = Client().get("/account/tokens/")
    assert response.status_code == 302
    assert "/accounts/login/" in response["Location"]


def test_token_page_shows_a_new_token_once_and_lists_it_with_last_use(park):
    client = Client()
    client.force_login(park.alice)
    response = client.post(
        "/account/tokens/",
        {
            "name": "cluster script",
            "tenant": "acme",
            "scopes": ["read", "jobs"],
            "expires_in_days": 30,
        },
    )
    assert response.status_code == 200
    assert response["Cache-Control"] == "no-store"
    secret = response.context["secret"]
    assert secret and secret in response.content.decode()
    Api(secret).get("/me")
    page = client.get("/account/tokens/").content.decode()
    assert "cluster script" in page
    assert secret not in page
    token = ApiToken.objects.get()
    assert token.scopes == ["jobs", "read"]
    assert token.last_used_at is not None


def test_token_page_revokes_only_own_tokens(park):
    make_token(park.charlie, park.globex)
    charlie_token = ApiToken.objects.get()
    client = Client()
    client.force_login(park.alice)
    assert client.post(f"/account/tokens/{charlie_token.pk}/revoke").status_code == 404
    charlie_token.refresh_from_db()
    assert charlie_token.revoked_at is None
    own_secret = make_token(park.alice, park.acme)
    own = ApiToken.objects.get(user=park.alice)
    assert client.post(f"/account/tokens/{own.pk}/revoke").status_code == 302
    assert_error(Api(own_secret).get("/me"), 401, "invalid_token")


def test_token_page_refuses_a_tenant_the_user_is_not_in(park):
    client = Client()
    client.force_login(park.alice)
    response = client.post(
        "/account/tokens/",
        {"name": "x", "tenant": "globex", "scopes": ["read"], "expires_in_days": 30},
    )
    assert response.status_code == 200
    assert response.context["secret"] is None
    assert "tenant" in response.context["form"].errors
    assert not ApiToken.objects.exists()


def test_rate_limit_counts_in_redis_when_configured(park, settings):
    # With REDIS_URL set, counters live in Redis and are shared by every server process.
    import os
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
    settings.API_RATE_LIMIT_PER_MINUTE = 2
    api = Api(make_token(park.alice, park.acme))
    assert [api.get("/me").status_code for _ in range(3)] == [200, 200, 429]


def test_error_messages_follow_accept_language(park):
    body = Api("park_000000000000_nope").get("/me", headers={"Accept-Language": "zh-hant"}).json()
    assert body["code"] == "invalid_token"  # codes stay stable in every language
    assert body["message"] == "此令牌不存在、已過期或已撤銷。"


def test_benchmark_ceiling_view_is_not_mounted_without_the_benchmark_setting(park):
    assert Client().get("/bench/ceiling").status_code == 404
