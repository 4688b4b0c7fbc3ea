"""Sign-in throttling for the web UI and the admin: failed sign-ins are counted per account and
per address in a sliding window (config.ratelimit); over either limit the form refuses before it
checks the password, so a guessed password does not work while the account or address is held.
"""

from __future__ import annotations

import math

from django import forms
from django.conf import settings
from django.contrib.admin.forms import AdminAuthenticationForm
from django.contrib.auth.forms import AuthenticationForm
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from config import ratelimit


def _account_key(username: str) -> str:
    return (username or "").strip().casefold()[:150]


class SigninThrottleMixin:
    """For AuthenticationForm subclasses; needs the form's ``request``."""

    def _limits(self):
        window = settings.SIGNIN_WINDOW_SECONDS
        address = ratelimit.client_address(self.request) if self.request else "unknown"
        username = _account_key(self.data.get("username", ""))
        return [
            ("signin-account", username, settings.SIGNIN_FAILURES_PER_ACCOUNT, window),
            ("signin-address", address, settings.SIGNIN_FAILURES_PER_ADDRESS, window),
        ]

    def clean(self):
        limits = [item for item in self._limits() if item[2] > 0]
        waits = [
            ratelimit.peek(name, key, limit=limit, period=window)
            for name, key, limit, window in limits
        ]
        held = [v.retry_after for v in waits if not v.allowed]
        if held:
            minutes = max(1, math.ceil(max(held) / 60))
            raise forms.ValidationError(
                ngettext(
                    "Too many failed sign-ins for this account or from this address. "
                    "Try again in %(minutes)s minute.",
                    "Too many failed sign-ins for this account or from this address. "
                    "Try again in %(minutes)s minutes.",
                    minutes,
                )
                % {"minutes": minutes},
                code="signin_throttled",
            )
        try:
            return super().clean()
        except forms.ValidationError:
            for name, key, limit, window in limits:
                ratelimit.hit(name, key, limit=limit, period=window)
            raise


class ThrottledAuthenticationForm(SigninThrottleMixin, AuthenticationForm):
    def confirm_login_allowed(self, user):
        super().confirm_login_allowed(user)
        # With single sign-on on, the park may keep passwords for operators only (break-glass).
        if settings.OIDC_ENABLED and settings.LOCAL_SIGNIN_STAFF_ONLY and not user.is_staff:
            raise forms.ValidationError(
                _("Sign in with single sign-on: park passwords are for operators only."),
                code="local_signin_staff_only",
            )


class ThrottledAdminAuthenticationForm(SigninThrottleMixin, AdminAuthenticationForm):
    pass
