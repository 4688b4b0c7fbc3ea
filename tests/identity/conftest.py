"""Single sign-on tests: a real OpenID Connect provider (tests/oidc_provider, django-oauth-toolkit
in its own process) and the park's live server, driven by an HTTP client as a browser would."""

from __future__ import annotations

import re
from dataclasses import dataclass
from html import unescape
from urllib.parse import parse_qs, urljoin, urlsplit

import httpx
import pytest

from tests.oidc_provider.server import Provider, provider_start

PARK_CLIENT = {"client_id": "park-booking", "client_secret": "park-booking-test-secret"}
# Another application registered at the same provider: its tokens are not for us.
OTHER_CLIENT = {
    "client_id": "other-app",
    "client_secret": "other-app-test-secret",
    "redirect_uris": ["http://127.0.0.1:9/other-app/callback"],
}
PASSWORD = "idp-password"
# People known to the provider. alice has the address of the park's alice (tests/conftest.py).
IDP_USERS = [
    {
        "username": "ann.lee",
        "email": "ann.lee@uni.example",
        "first_name": "Ann",
        "last_name": "Lee",
    },
    {"username": "alice-acme", "email": "alice@acme.example", "first_name": "Alice"},
    {"username": "mallory", "email": "bob@acme.example", "email_verified": False},
]


@pytest.fixture(scope="session")
def oidc_provider(live_server, tmp_path_factory) -> Provider:
    callback = f"{live_server.url}/accounts/sso/callback/"
    provider = provider_start(
        folder=tmp_path_factory.mktemp("oidc-provider"),
        users=[{**user, "password": PASSWORD} for user in IDP_USERS],
        clients=[{**PARK_CLIENT, "redirect_uris": [callback]}, OTHER_CLIENT],
    )
    yield provider
    provider.stop()


@pytest.fixture
def oidc_on(settings, oidc_provider):
    """The park configured for the test provider, endpoints found by discovery."""
    from booking.identity.provider import provider_forget

    settings.OIDC_ENABLED = True
    settings.OIDC_ISSUER = oidc_provider.issuer
    settings.OIDC_RP_CLIENT_ID = PARK_CLIENT["client_id"]
    settings.OIDC_RP_CLIENT_SECRET = PARK_CLIENT["client_secret"]
    settings.OIDC_PROVIDER_NAME = "Park ID"
    provider_forget()
    yield oidc_provider
    provider_forget()


_INPUT = re.compile(r"<input[^>]*>")


def form_fields(html: str) -> dict[str, str]:
    fields = {}
    for tag in _INPUT.findall(html):
        name = re.search(r'name="([^"]*)"', tag)
        value = re.search(r'value="([^"]*)"', tag)
        if name:
            fields[unescape(name.group(1))] = unescape(value.group(1)) if value else ""
    return fields


@dataclass
class WebClient:
    """An HTTP client that follows redirects itself (so a test can stop at any hop) and signs
    in at the provider's login form when it is shown one."""

    client: httpx.Client
    provider_login: str = ""

    def go(self, url: str, *, stop_at: str | None = None, username: str | None = None):
        """Follow redirects from ``url``; post the provider's login form as ``username`` when
        it appears. Stops at a redirect whose target starts with ``stop_at`` (returned unfollowed)."""
        response = self.client.get(url)
        for _ in range(20):
            if response.is_redirect:
                target = urljoin(str(response.url), response.headers["location"])
                if stop_at and target.startswith(stop_at):
                    return response
                response = self.client.get(target)
            elif username and str(response.url).startswith(self.provider_login):
                fields = form_fields(response.text)
                fields.update(username=username, password=PASSWORD)
                response = self.client.post(str(response.url), data=fields)
                username = None
            else:
                return response
        raise AssertionError("too many redirects")


def query_of(url: str) -> dict[str, str]:
    return {k: v[-1] for k, v in parse_qs(urlsplit(url).query).items()}


@pytest.fixture
def web(oidc_provider):
    with httpx.Client(timeout=30) as client:
        yield WebClient(client, provider_login=oidc_provider.login_url)
