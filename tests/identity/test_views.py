"""The sign-in pages without a provider: single sign-on off hides the button and its routes;
on, a provider that cannot be reached or a cancelled sign-in returns to the sign-in page
saying why; password sign-in stays, optionally for operators only."""

from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model

from booking.identity.provider import provider_forget


@pytest.fixture
def oidc_unreachable(settings):
    # Nothing listens on the discard port: discovery fails at once.
    settings.OIDC_ENABLED = True
    settings.OIDC_ISSUER = "http://127.0.0.1:9/o"
    settings.OIDC_RP_CLIENT_ID = "park-booking"
    settings.OIDC_RP_CLIENT_SECRET = "not-a-real-secret"
    settings.OIDC_PROVIDER_NAME = ""
    provider_forget()
    yield settings
    provider_forget()


def test_without_single_sign_on_the_page_offers_passwords_only(client, db):
    page = client.get("/accounts/login/")

    assert page.status_code == 200
    assert 'name="password"' in page.text
    assert "single sign-on" not in page.text.lower()


@pytest.mark.parametrize("path", ["/accounts/sso/start/", "/accounts/sso/callback/?code=c&state=s"])
def test_without_single_sign_on_its_routes_are_not_found(client, db, path):
    assert client.get(path).status_code == 404


def test_with_single_sign_on_the_button_is_in_the_readers_language(client, oidc_unreachable, db):
    page = client.get("/accounts/login/?next=/bookings/", HTTP_ACCEPT_LANGUAGE="zh-hant")

    assert "以單一登入方式登入" in page.text
    assert "/accounts/sso/start/?next=/bookings/" in page.text
    assert 'name="password"' in page.text


def test_an_unreachable_provider_returns_to_the_sign_in_page_saying_so(client, oidc_unreachable):
    page = client.get("/accounts/sso/start/", follow=True)

    assert page.redirect_chain == [("/accounts/login/", 302)]
    assert "The identity provider cannot be reached." in page.text


def test_a_sign_in_cancelled_at_the_provider_signs_nobody_in(client, oidc_unreachable, db):
    page = client.get("/accounts/sso/callback/?error=access_denied&state=s", follow=True)

    assert "cancelled at the identity provider" in page.text
    assert "_auth_user_id" not in client.session
    assert not get_user_model().objects.exists()


def test_a_callback_without_a_started_sign_in_is_refused(client, oidc_unreachable, db):
    page = client.get("/accounts/sso/callback/?code=c&state=s", follow=True)

    assert "The sign-in expired or was started elsewhere." in page.text
    assert "_auth_user_id" not in client.session


def test_passwords_can_be_kept_for_operators_only(client, park, oidc_unreachable):
    oidc_unreachable.LOCAL_SIGNIN_STAFF_ONLY = True

    member = client.post("/accounts/login/", {"username": "alice", "password": "pw-alice"})
    assert member.status_code == 200
    assert "park passwords are for operators only" in member.text
    assert "_auth_user_id" not in client.session

    operator = client.post("/accounts/login/", {"username": "olga", "password": "pw-olga"})
    assert operator.status_code == 302


def test_passwords_stay_for_everyone_by_default(client, park, oidc_unreachable):
    member = client.post("/accounts/login/", {"username": "alice", "password": "pw-alice"})
    assert member.status_code == 302


def test_a_person_without_a_tenant_is_asked_to_get_an_invitation_in_their_language(client, db):
    newcomer = get_user_model().objects.create_user("ann", first_name="Ann")
    client.force_login(newcomer)

    page = client.get("/accounts/no-tenant/", HTTP_ACCEPT_LANGUAGE="zh-hant")

    assert page.status_code == 200
    assert "請向貴租戶的管理員索取邀請" in page.text


def test_the_invitation_page_names_no_other_tenant(client, park):
    client.force_login(park.charlie)

    page = client.get("/accounts/no-tenant/")

    assert page.status_code == 200
    assert "Acme" not in page.text
    assert "You belong to a tenant" in page.text


def test_the_invitation_page_needs_a_sign_in(client, db):
    assert client.get("/accounts/no-tenant/").status_code == 302
