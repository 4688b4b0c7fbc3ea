from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _


class Refusal(models.TextChoices):
    """Why a single sign-on was refused (the sign-in page says it in the reader's language)."""

    TOKEN_INVALID = "token_invalid", _("The identity provider's answer could not be verified.")
    STATE_MISMATCH = "state_mismatch", _("The sign-in expired or was started elsewhere.")
    PROVIDER_UNAVAILABLE = "provider_unavailable", _("The identity provider cannot be reached.")
    CANCELLED = "cancelled", _("The sign-in was cancelled at the identity provider.")
    AMBIGUOUS_EMAIL = "ambiguous_email", _("More than one park account has this e-mail address.")
    EMAIL_UNVERIFIED = (
        "email_unverified",
        _("A park account has this e-mail address, but the identity provider has not verified it."),
    )
    LINKED_ELSEWHERE = (
        "linked_elsewhere",
        _("The park account with this e-mail address is linked to another identity."),
    )
    STAFF_NOT_LINKED = (
        "staff_not_linked",
        _("Operator accounts are linked to single sign-on by an operator, not by e-mail."),
    )
    INACTIVE = "inactive", _("This park account is disabled.")
    NO_ACCOUNT = "no_account", _("There is no park account for this identity.")


class OidcIdentity(models.Model):
    """A user's identity at an OpenID Connect provider: the provider (issuer) and the subject
    it names the person by. One subject of one issuer is one user."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="oidc_identities"
    )
    issuer = models.CharField(_("issuer"), max_length=255)
    subject = models.CharField(_("subject"), max_length=255)
    email = models.EmailField(_("e-mail at the provider"), blank=True)
    email_verified = models.BooleanField(_("e-mail verified by the provider"), default=False)
    created_at = models.DateTimeField(_("linked at"), auto_now_add=True)
    last_signed_in_at = models.DateTimeField(_("last signed in"), null=True, blank=True)

    class Meta:
        verbose_name = _("single sign-on identity")
        verbose_name_plural = _("single sign-on identities")
        constraints = [
            models.UniqueConstraint(
                fields=["issuer", "subject"], name="oidc_identity_one_user_per_subject"
            )
        ]

    def __str__(self) -> str:
        return f"{self.subject} @ {self.issuer}"
