"""Single sign-on against a real OpenID Connect provider started by the tests (django-oauth-toolkit
in its own process): the authorization-code flow as a web runs it, through the provider's
login form, back to the park's live server."""

from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model

from booking.identity.backends import ParkOidcBackend
from booking.identity.models import OidcIdentity
from tests.identity.conftest import OTHER_CLIENT, query_of

pytestmark = pytest.mark.slow


def sign_in(web, live_server, username: str):
    return web.go(f"{live_server.url}/accounts/sso/start/", username=username)


def signed_in_as(web, live_server) -> str | None:
    """The name in the park's top bar, or None when the park asks to sign in."""
    page = web.go(f"{live_server.url}/bookings/")
    if "/accounts/login/" in str(page.url):
        return None
    return page.text


def test_the_sign_in_page_offers_the_park_identity_provider(oidc_on, web, live_server):
    page = web.go(f"{live_server.url}/accounts/login/")
    assert "Sign in with Park ID" in page.text
    assert 'name="password"' in page.text  # the park password stays


def test_a_first_sign_in_creates_the_user_who_then_waits_for_an_invitation(
    oidc_on, web, live_server
):
    page = sign_in(web, live_server, "ann.lee")

    assert str(page.url) == f"{live_server.url}/accounts/no-tenant/"
    assert "Ask your tenant's manager to invite you" in page.text
    identity = OidcIdentity.objects.select_related("user").get(issuer=oidc_on.issuer)
    user = identity.user
    assert (user.username, user.email, user.first_name, user.last_name) == (
        "ann.lee",
        "ann.lee@uni.example",
        "Ann",
        "Lee",
    )
    assert identity.subject and identity.email_verified and identity.last_signed_in_at
    assert not user.has_usable_password()


def test_a_second_sign_in_is_the_same_user(oidc_on, web, live_server):
    sign_in(web, live_server, "ann.lee")
    web.client.cookies.clear()  # a new web: signed in at neither side
    sign_in(web, live_server, "ann.lee")

    assert get_user_model().objects.filter(email="ann.lee@uni.example").count() == 1
    assert OidcIdentity.objects.count() == 1


def test_a_park_user_with_the_verified_address_is_linked_and_lands_home(
    oidc_on, park, web, live_server
):
    page = sign_in(web, live_server, "alice-acme")

    assert str(page.url) == f"{live_server.url}/"
    assert OidcIdentity.objects.get().user == park.alice
    assert get_user_model().objects.filter(email__iexact="alice@acme.example").count() == 1
    assert "Alice" in signed_in_as(web, live_server)


def test_an_unverified_address_of_a_park_user_is_refused(oidc_on, park, web, live_server):
    users_before = get_user_model().objects.count()

    page = sign_in(web, live_server, "mallory")

    assert str(page.url) == f"{live_server.url}/accounts/login/"
    assert "has not verified it" in page.text
    assert get_user_model().objects.count() == users_before
    assert not OidcIdentity.objects.exists()
    assert signed_in_as(web, live_server) is None


def _token_for_other_app(web, provider, *, nonce: str) -> dict:
    """A real code flow of the other application (signed in at the provider as ann.lee): its
    tokens, the id_token's audience being that application."""
    redirect_uri = OTHER_CLIENT["redirect_uris"][0]
    authorize = web.client.build_request(
        "GET",
        f"{provider.issuer}/authorize/",
        params={
            "response_type": "code",
            "client_id": OTHER_CLIENT["client_id"],
            "redirect_uri": redirect_uri,
            "scope": "openid email profile",
            "state": "other-state",
            "nonce": nonce,
        },
    ).url
    hop = web.go(str(authorize), stop_at=redirect_uri, username="ann.lee")
    code = query_of(hop.headers["location"])["code"]
    tokens = web.client.post(
        f"{provider.issuer}/token/",
        data={
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": redirect_uri,
            "client_id": OTHER_CLIENT["client_id"],
            "client_secret": OTHER_CLIENT["client_secret"],
        },
    )
    tokens.raise_for_status()
    return {**tokens.json(), "code": code}


def assert_nobody_signed_in(web, live_server, page, users_before: int, reason: str):
    assert str(page.url) == f"{live_server.url}/accounts/login/"
    assert reason in page.text
    assert get_user_model().objects.count() == users_before
    assert not OidcIdentity.objects.exists()
    assert signed_in_as(web, live_server) is None


def test_an_id_token_for_another_audience_is_refused(oidc_on, web, live_server, monkeypatch):
    users_before = get_user_model().objects.count()
    start = web.go(f"{live_server.url}/accounts/sso/start/", stop_at=oidc_on.issuer)
    authorize = start.headers["location"]
    # The provider's genuine, signed tokens for the other application, carrying our nonce:
    # only the audience tells they are not for the park.
    other = _token_for_other_app(web, oidc_on, nonce=query_of(authorize)["nonce"])
    monkeypatch.setattr(ParkOidcBackend, "get_token", lambda self, payload: other)

    page = web.go(authorize)

    assert_nobody_signed_in(web, live_server, page, users_before, "answer could not be verified")


def test_the_other_applications_code_is_refused_at_our_callback(oidc_on, web, live_server):
    users_before = get_user_model().objects.count()
    start = web.go(f"{live_server.url}/accounts/sso/start/", stop_at=oidc_on.issuer)
    ours = query_of(start.headers["location"])
    other = _token_for_other_app(web, oidc_on, nonce=ours["nonce"])
    # A fresh code of the other application (the one above was spent on its tokens).
    fresh = _token_for_other_app(web, oidc_on, nonce=ours["nonce"])["code"]
    assert fresh != other["code"]

    page = web.go(f"{live_server.url}/accounts/sso/callback/?code={fresh}&state={ours['state']}")

    assert_nobody_signed_in(web, live_server, page, users_before, "answer could not be verified")


def test_a_callback_with_an_unknown_state_is_refused(oidc_on, web, live_server):
    users_before = get_user_model().objects.count()
    hop = web.go(
        f"{live_server.url}/accounts/sso/start/",
        stop_at=f"{live_server.url}/accounts/sso/callback/",
        username="ann.lee",
    )
    code = query_of(hop.headers["location"])["code"]

    page = web.go(f"{live_server.url}/accounts/sso/callback/?code={code}&state=forged")

    assert_nobody_signed_in(web, live_server, page, users_before, "sign-in expired")


def test_a_code_issued_for_another_nonce_is_refused(oidc_on, web, live_server):
    users_before = get_user_model().objects.count()
    start = web.go(f"{live_server.url}/accounts/sso/start/", stop_at=oidc_on.issuer)
    params = query_of(start.headers["location"])
    # The same authorization request with the nonce replaced, as an injected code would carry.
    forged = web.client.build_request(
        "GET", f"{oidc_on.issuer}/authorize/", params={**params, "nonce": "not-the-sessions"}
    ).url

    page = web.go(str(forged), username="ann.lee")

    assert_nobody_signed_in(web, live_server, page, users_before, "answer could not be verified")
