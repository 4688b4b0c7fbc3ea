"""Single sign-on in a real browser: the park's sign-in page sends the person to the identity
provider (a real OpenID Connect provider in its own process), its login form signs them in,
and the browser comes back to the page it asked for — signed in as the park user with the
same verified address, or, for a person the park does not know, on the page that says how to
get an invitation. The HTTP-client tests in tests/identity cover the refusals."""

# ruff: noqa: F811 - the provider fixtures come from tests/identity and are named in each test
from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from booking.identity.models import OidcIdentity
from tests.identity.conftest import PASSWORD, oidc_on, oidc_provider  # noqa: F401 - fixtures

pytestmark = [
    pytest.mark.browser,
    pytest.mark.slow,
    pytest.mark.django_db(transaction=True),
]


def _through_the_provider(page, base: str, username: str, *, next_path: str) -> None:
    page.context.clear_cookies()
    page.context.add_cookies([{"name": "django_language", "value": "en", "url": base}])
    page.goto(f"{base}{next_path}")
    page.wait_for_url(re.compile(r"/accounts/login/\?next="))
    with page.expect_navigation():
        page.click("p.sso a.button")
    expect(page.locator("h1")).to_have_text("Park identity provider")
    assert not page.url.startswith(base)  # the provider's own page, on its own origin
    page.fill("#id_username", username)
    page.fill("#id_password", PASSWORD)
    with page.expect_navigation():
        page.click("form button[type=submit]")


def test_a_park_user_signs_in_at_the_provider_and_comes_back_where_they_were_going(
    page, live_server, park, oidc_on, shot
):
    base = live_server.url
    _through_the_provider(page, base, "alice-acme", next_path="/bookings/")

    page.wait_for_url(f"{base}/bookings/")
    expect(page.locator("h1")).to_have_text("My bookings")
    expect(page.locator("header")).to_contain_text("Alice")
    assert OidcIdentity.objects.get().user == park.alice  # linked by the verified address
    shot(page, "en-single-sign-on-01-back-signed-in")

    # Signed out of the park, a second sign-in reuses the provider's session: no form again.
    with page.expect_navigation():
        page.click("header form.logout button")
    page.goto(f"{base}/accounts/login/")
    with page.expect_navigation():
        page.click("p.sso a.button")
    page.wait_for_url(f"{base}/")
    expect(page.locator("header")).to_contain_text("Alice")
    assert OidcIdentity.objects.count() == 1


def test_a_person_the_park_does_not_know_is_told_how_to_get_an_invitation(
    page, live_server, oidc_on, shot
):
    base = live_server.url
    _through_the_provider(page, base, "ann.lee", next_path="/bookings/")

    page.wait_for_url(f"{base}/accounts/no-tenant/")
    expect(page.locator("main")).to_contain_text("Ask your tenant's manager to invite you")
    shot(page, "en-single-sign-on-02-no-tenant")
