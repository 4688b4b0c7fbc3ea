"""The rules of a single sign-on: which id_tokens are ours, and which park user a verified
identity is.

Matching, in order: the stored identity (issuer, subject); else one park user with the same
e-mail address when the provider says it verified it (the identity is linked once); else a new
user. Operator (staff) accounts are never linked by e-mail: an operator links them in the admin.
"""

from __future__ import annotations

import re
import time

from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractBaseUser
from django.db import IntegrityError, transaction
from django.utils import timezone

from booking.identity.models import OidcIdentity, Refusal

USERNAME_MAX = 30


class IdentityRefused(Exception):
    """A sign-in that must not proceed; ``code`` is a ``Refusal``."""

    def __init__(self, code: Refusal, detail: str = ""):
        super().__init__(f"{code}: {detail}" if detail else str(code))
        self.code = code


def id_token_check(*, claims: dict, issuer: str, client_id: str, now: float | None = None) -> None:
    """Check that an id_token (its signature already verified) was issued by our provider, for
    us, and is current (OpenID Connect Core 3.1.3.7).

    In: the token's claims, the configured issuer and our client id.
    Raises IdentityRefused(TOKEN_INVALID) naming the claim that is wrong."""
    now = time.time() if now is None else now
    if str(claims.get("iss", "")).rstrip("/") != issuer:
        raise IdentityRefused(Refusal.TOKEN_INVALID, f"iss {claims.get('iss')!r} is not {issuer}")
    audience = claims.get("aud")
    audiences = [audience] if isinstance(audience, str) else list(audience or [])
    if client_id not in audiences:
        raise IdentityRefused(Refusal.TOKEN_INVALID, f"aud {audience!r} does not name us")
    azp = claims.get("azp")
    if (len(audiences) > 1 or azp is not None) and azp != client_id:
        raise IdentityRefused(Refusal.TOKEN_INVALID, f"azp {azp!r} is not us")
    if not isinstance(claims.get("exp"), int | float) or claims["exp"] <= now:
        raise IdentityRefused(Refusal.TOKEN_INVALID, "exp is missing or past")
    if not claims.get("sub"):
        raise IdentityRefused(Refusal.TOKEN_INVALID, "sub is missing")


def _email_verified(claims: dict) -> bool:
    # Some providers send the boolean as a string.
    return claims.get("email_verified") in (True, "true", "True")


def username_derive(*, claims: dict) -> str:
    """A free username for a new user: the provider's preferred_username or the e-mail's local
    part, reduced to letters (any script), digits and . _ -, shortened, and numbered when taken."""
    User = get_user_model()
    raw = claims.get("preferred_username") or str(claims.get("email", "")).split("@")[0]
    base = re.sub(r"[^\w.-]+", "-", str(raw).casefold()).strip(".-_")[:USERNAME_MAX]
    base = base or "user"
    candidate, n = base, 1
    while User.objects.filter(username__iexact=candidate).exists():
        n += 1
        suffix = f"-{n}"
        candidate = base[: USERNAME_MAX - len(suffix)] + suffix
    return candidate


def _by_email(*, email: str, verified: bool, issuer: str, subject: str):
    """The one existing user to link by e-mail, or None for a new user."""
    if not email:
        return None
    users = list(get_user_model().objects.filter(email__iexact=email)[:2])
    if not users:
        return None
    if not verified:
        # Creating a second account with this address would hand it to whoever asks first.
        raise IdentityRefused(Refusal.EMAIL_UNVERIFIED, email)
    if len(users) > 1:
        raise IdentityRefused(Refusal.AMBIGUOUS_EMAIL, email)
    user = users[0]
    if user.is_staff or user.is_superuser:
        raise IdentityRefused(Refusal.STAFF_NOT_LINKED, user.get_username())
    # The same subject may have been linked a moment ago by a simultaneous first sign-in (it
    # committed after this one looked the identity up): that is this person, not another one.
    if OidcIdentity.objects.filter(user=user, issuer=issuer).exclude(subject=subject).exists():
        raise IdentityRefused(Refusal.LINKED_ELSEWHERE, user.get_username())
    return user


def _sign_in_once(*, issuer: str, claims: dict, create: bool) -> AbstractBaseUser:
    subject = str(claims["sub"])
    email = str(claims.get("email") or "")
    verified = _email_verified(claims)
    now = timezone.now()
    identity = (
        OidcIdentity.objects.select_related("user").filter(issuer=issuer, subject=subject).first()
    )
    if identity is not None:
        user = identity.user
    else:
        user = _by_email(email=email, verified=verified, issuer=issuer, subject=subject)
        identity = OidcIdentity.objects.filter(issuer=issuer, subject=subject).first()
        if identity is not None:
            user = identity.user
        elif user is None:
            if not create:
                raise IdentityRefused(Refusal.NO_ACCOUNT, subject)
            user = get_user_model().objects.create_user(
                username_derive(claims=claims),
                # An unverified address is kept on the identity only, never on the user.
                email=email if verified else "",
                first_name=str(claims.get("given_name") or "")[:150],
                last_name=str(claims.get("family_name") or "")[:150],
            )
            user.set_unusable_password()
            user.save(update_fields=["password"])
        if identity is None:
            identity = OidcIdentity.objects.create(user=user, issuer=issuer, subject=subject)
    if not user.is_active:
        raise IdentityRefused(Refusal.INACTIVE, user.get_username())
    OidcIdentity.objects.filter(pk=identity.pk).update(
        email=email, email_verified=verified, last_signed_in_at=now
    )
    return user


def identity_sign_in(*, issuer: str, claims: dict, create: bool = True) -> AbstractBaseUser:
    """The park user a verified identity signs in as, linking or creating it as the rules say.

    In: the configured issuer; the claims (id_token and userinfo; ``sub`` required); whether a
    new user may be created. Out: the user. Raises IdentityRefused (nothing written then).
    Two first sign-ins of one subject at once: the unique (issuer, subject) constraint lets one
    create; the other retries and finds it."""
    for attempt in range(2):
        try:
            with transaction.atomic():
                return _sign_in_once(issuer=issuer, claims=claims, create=create)
        except IntegrityError:
            if attempt:
                raise
    raise AssertionError("unreachable")
