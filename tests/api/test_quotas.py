"""The acting tenant's quotas and usage."""

from __future__ import annotations

import datetime as dt

from tests.api.conftest import Api, assert_error, make_token, next_hour


def test_quotas_show_use_of_the_tokens_tenant(alice_api):
    start = next_hour(days=1)
    alice_api.post(
        "/bookings",
        {
            "resource": "gpu01",
            "title": "t",
            "units": 2,
            "start": start.isoformat(),
            "end": (start + dt.timedelta(hours=3)).isoformat(),
        },
    )
    body = alice_api.get("/quotas").json()
    assert body["tenant"] == "acme"
    gpu = next(q for q in body["quotas"] if q["resource_class"] == "gpu")
    assert gpu["quota_hours"] == 100
    # 2 GPUs × 3 h count in this week's period unless tomorrow already starts the next one.
    in_this_period = start < dt.datetime.fromisoformat(gpu["period_end"])
    assert gpu["used_hours"] == (6 if in_this_period else 0)
    assert gpu["left_hours"] == gpu["quota_hours"] - gpu["used_hours"]


def test_usage_by_tenant_slug(alice_api):
    assert alice_api.get("/tenants/acme/usage").json()["tenant"] == "acme"


def test_charlie_gets_404_for_acmes_usage(charlie_api):
    assert_error(charlie_api.get("/tenants/acme/usage"), 404, "not_found")
    assert charlie_api.get("/quotas").json()["tenant"] == "globex"


def test_revoked_token_cannot_read_usage(park):
    from booking.tokens.models import ApiToken
    from booking.tokens.services import api_token_revoke

    api = Api(make_token(park.alice, park.acme))
    api_token_revoke(token=ApiToken.objects.get(), actor=park.alice)
    assert_error(api.get("/quotas"), 401, "invalid_token")


def test_usage_needs_the_read_scope(park):
    api = Api(make_token(park.alice, park.acme, scopes=["jobs"]))
    assert_error(api.get("/quotas"), 403, "insufficient_scope")
    assert_error(api.get("/tenants/x%00/usage"), 403)
