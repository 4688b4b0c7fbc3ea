"""The sign-in page (password, and the single sign-on button when it is configured), the two
single sign-on steps (mozilla-django-oidc's views with the park's endpoints and refusals), and
the page of a signed-in person who belongs to no tenant yet."""

from __future__ import annotations

import logging

import requests
from django.conf import settings
from django.contrib import messages
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.core.exceptions import SuspiciousOperation
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render, resolve_url
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET
from mozilla_django_oidc.views import (
    OIDCAuthenticationCallbackView,
    OIDCAuthenticationRequestView,
)

from booking.identity.models import Refusal
from booking.identity.provider import ProviderUnavailable, provider_endpoints
from booking.tenancy.selectors import tenants_for_user
from config.signin import ThrottledAuthenticationForm

log = logging.getLogger(__name__)


def provider_label() -> str:
    if settings.OIDC_PROVIDER_NAME:
        return _("Sign in with %(provider)s") % {"provider": settings.OIDC_PROVIDER_NAME}
    return _("Sign in with single sign-on")


def signin(request: HttpRequest) -> HttpResponse:
    """Django's sign-in page, with the single sign-on button when it is configured."""
    context = {"oidc_enabled": settings.OIDC_ENABLED}
    if settings.OIDC_ENABLED:
        context["oidc_label"] = provider_label()
    return auth_views.LoginView.as_view(
        authentication_form=ThrottledAuthenticationForm, extra_context=context
    )(request)


def _refuse(request: HttpRequest, code: Refusal) -> HttpResponse:
    messages.error(
        request,
        _(
            "Single sign-on did not sign you in: %(reason)s You can try again, or sign in with "
            "your park password if you have one."
        )
        % {"reason": code.label},
    )
    return HttpResponseRedirect(resolve_url(settings.LOGIN_URL))


class OidcStartView(OIDCAuthenticationRequestView):
    """Sends the browser to the provider's authorization endpoint (state, nonce, PKCE)."""

    def __init__(self, **kwargs):
        # The library reads the endpoint here; it is resolved per request in get().
        super(OIDCAuthenticationRequestView, self).__init__(**kwargs)

    def get(self, request):
        if not settings.OIDC_ENABLED:
            raise Http404
        try:
            self.OIDC_OP_AUTH_ENDPOINT = provider_endpoints().authorization
        except ProviderUnavailable as exc:
            log.warning("single sign-on cannot start: %s", exc)
            return _refuse(request, Refusal.PROVIDER_UNAVAILABLE)
        self.OIDC_RP_CLIENT_ID = settings.OIDC_RP_CLIENT_ID
        return super().get(request)


class OidcCallbackView(OIDCAuthenticationCallbackView):
    """Where the provider sends the browser back: the code is exchanged and the identity
    matched (ParkOidcBackend); any refusal returns to the sign-in page saying why."""

    def get(self, request):
        if not settings.OIDC_ENABLED:
            raise Http404
        try:
            return super().get(request)
        except SuspiciousOperation as exc:
            log.warning("single sign-on refused: %s", exc)
            state_unknown = getattr(request, "oidc_refusal", None) is None and "state" in str(exc)
            request.oidc_refusal = getattr(request, "oidc_refusal", None) or (
                Refusal.STATE_MISMATCH if state_unknown else Refusal.TOKEN_INVALID
            )
        except requests.HTTPError as exc:
            log.warning("single sign-on: the provider refused the code: %s", exc)
            request.oidc_refusal = Refusal.TOKEN_INVALID
        except (requests.RequestException, ProviderUnavailable) as exc:
            log.warning("single sign-on: the provider cannot be reached: %s", exc)
            request.oidc_refusal = Refusal.PROVIDER_UNAVAILABLE
        return self.login_failure()

    def login_failure(self):
        code = getattr(self.request, "oidc_refusal", None)
        if code is None:
            code = Refusal.CANCELLED if self.request.GET.get("error") else Refusal.STATE_MISMATCH
        return _refuse(self.request, code)

    @property
    def success_url(self):
        user = self.user
        if not user.is_staff and not tenants_for_user(user=user):
            return reverse("no_tenant")
        return super().success_url


@login_required
@require_GET
def no_tenant(request: HttpRequest) -> HttpResponse:
    """A signed-in person with no tenant: they need their tenant manager's invitation."""
    return render(
        request,
        "identity/no_tenant.html",
        {"tenants": tenants_for_user(user=request.user)},
    )
