"""Invitations: a manager invites someone by e-mail to join the tenant with a role.

The e-mail carries a link with a signed token (``django.core.signing.TimestampSigner``, salt
``INVITATION_SALT``) of the invitation's id and a random nonce; the signature's age is held to
``PARK_INVITE_TTL_HOURS`` and the row's ``expires`` says the same. A link is good while its
invitation is not expired, not revoked and not yet accepted. Accepting creates the membership
once (the row is locked, and the database holds one membership per user and tenant); opening
the link again after it was used does nothing.
"""

from __future__ import annotations

import datetime as dt
import enum
import secrets
from dataclasses import dataclass

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.password_validation import validate_password
from django.core import signing
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from booking.errors import Conflict, Forbidden, ParkError
from booking.tenancy.access import require_manager
from booking.tenancy.models import Invitation, Membership, Tenant

INVITATION_SALT = "park.tenancy.invitation"


class LinkState(enum.Enum):
    PENDING = "pending"
    INVALID = "invalid"
    EXPIRED = "expired"
    REVOKED = "revoked"
    ACCEPTED = "accepted"


@dataclass(frozen=True)
class LinkCheck:
    state: LinkState
    invitation: Invitation | None = None


def _ttl() -> dt.timedelta:
    return dt.timedelta(hours=settings.PARK_INVITE_TTL_HOURS)


def _signer() -> signing.TimestampSigner:
    return signing.TimestampSigner(salt=INVITATION_SALT)


def invitation_token(*, invitation: Invitation) -> str:
    """The token of the invitation's link (signed now)."""
    return _signer().sign(f"{invitation.pk}.{invitation.nonce}")


def invitation_create(
    *,
    actor,
    tenant: Tenant,
    email: str,
    role: str = Membership.Role.MEMBER,
    language: str = "",
    now: dt.datetime | None = None,
) -> Invitation:
    """Invite ``email`` to ``tenant`` with ``role``; the e-mail goes out in ``language`` (the
    inviter's choice, else the site's) once this commits (``tenancy.tasks``). An earlier
    pending invitation of the same address to the tenant is revoked: only the newest link
    works. Refused: not a manager (404), a bad address or role, someone already a member."""
    require_manager(user=actor, tenant=tenant)
    now = now or timezone.now()
    email = (email or "").strip()
    try:
        validate_email(email)
    except ValidationError:
        raise ParkError(
            "email_invalid", _("Enter a valid e-mail address."), field="email"
        ) from None
    if role not in Membership.Role.values:
        raise ParkError("role_invalid", _("Choose a role."), field="role")
    codes = {code for code, _name in settings.LANGUAGES}
    language = language if language in codes else settings.LANGUAGE_CODE
    if Membership.objects.filter(tenant=tenant, user__email__iexact=email).exists():
        raise Conflict(
            "already_member",
            _("%(email)s is already a member of this tenant."),
            params={"email": email},
            field="email",
        )
    with transaction.atomic():
        Invitation.objects.filter(
            tenant=tenant, email__iexact=email, accepted_at__isnull=True, revoked=False
        ).update(revoked=True)
        invitation = Invitation.objects.create(
            tenant=tenant,
            email=email,
            role=role,
            language=language,
            nonce=secrets.token_urlsafe(16),
            invited_by=actor,
            created=now,
            expires=now + _ttl(),
        )
    return invitation


def invitation_revoke(*, actor, invitation: Invitation) -> bool:
    """Withdraw a pending invitation (its link stops working). False if it was already used."""
    require_manager(user=actor, tenant=invitation.tenant)
    return bool(
        Invitation.objects.filter(pk=invitation.pk, accepted_at__isnull=True).update(revoked=True)
    )


def invitation_check(*, token: str, now: dt.datetime | None = None) -> LinkCheck:
    """What a link's token stands for: a pending invitation, or why it is no good."""
    now = now or timezone.now()
    try:
        value = _signer().unsign(token, max_age=_ttl())
    except signing.SignatureExpired:
        return LinkCheck(LinkState.EXPIRED)
    except signing.BadSignature:
        return LinkCheck(LinkState.INVALID)
    pk, _dot, nonce = value.partition(".")
    invitation = (
        Invitation.objects.select_related("tenant", "invited_by")
        .filter(pk=int(pk) if pk.isdigit() else 0, nonce=nonce)
        .first()
    )
    if invitation is None:
        return LinkCheck(LinkState.INVALID)
    return LinkCheck(_state(invitation, now), invitation)


def _state(invitation: Invitation, now: dt.datetime) -> LinkState:
    if invitation.accepted_at is not None:
        return LinkState.ACCEPTED
    if invitation.revoked:
        return LinkState.REVOKED
    if invitation.expires <= now:
        return LinkState.EXPIRED
    return LinkState.PENDING


_REFUSALS = {
    LinkState.EXPIRED: lambda: ParkError(
        "invitation_expired",
        _("This invitation has expired; ask your manager for a new one."),
        status=410,
    ),
    LinkState.REVOKED: lambda: ParkError(
        "invitation_revoked", _("This invitation was withdrawn."), status=410
    ),
    LinkState.ACCEPTED: lambda: Conflict(
        "invitation_used", _("This invitation has already been accepted.")
    ),
}


def invitation_accept(
    *, invitation: Invitation, user, now: dt.datetime | None = None
) -> Membership:
    """``user`` (signed in, with the invited e-mail address) joins the tenant with the
    invitation's role. Once: accepting a used link again answers the membership it made for
    the same user and changes nothing; a member already keeps their role. Row-locked."""
    now = now or timezone.now()
    if (user.email or "").lower() != invitation.email.lower():
        raise Forbidden(
            "invitation_other_email",
            _("This invitation is for %(email)s; sign in with that address."),
            params={"email": invitation.email},
        )
    with transaction.atomic():
        locked = Invitation.objects.select_for_update().get(pk=invitation.pk)
        state = _state(locked, now)
        if state is LinkState.ACCEPTED and locked.accepted_by_id == user.pk:
            found = Membership.objects.filter(user=user, tenant_id=locked.tenant_id).first()
            if found is not None:
                return found
        if state is not LinkState.PENDING:
            raise _REFUSALS[state]()
        membership, _created = Membership.objects.get_or_create(
            user=user, tenant_id=locked.tenant_id, defaults={"role": locked.role}
        )
        Invitation.objects.filter(pk=locked.pk, accepted_at__isnull=True).update(
            accepted_at=now, accepted_by=user
        )
    return membership


def invitation_accept_new_user(
    *,
    invitation: Invitation,
    username: str,
    password: str,
    first_name: str = "",
    last_name: str = "",
    now: dt.datetime | None = None,
):
    """Someone new accepts: their account (the invited e-mail address, the password they
    chose, checked by the site's password rules) and the membership, together or not at all.
    Returns the user. Refused when the address already has an account (sign in instead)."""
    User = get_user_model()
    username = (username or "").strip()
    if User.objects.filter(email__iexact=invitation.email).exists():
        raise Conflict(
            "account_exists",
            _("An account with this e-mail address exists; sign in to accept."),
            field="username",
        )
    try:
        User.username_validator(username)
    except ValidationError:
        raise ParkError(
            "username_invalid",
            _("A user name is letters, digits and @ . + - _ only."),
            field="username",
        ) from None
    if not username or User.objects.filter(username__iexact=username).exists():
        raise Conflict(
            "username_taken", _("This user name is taken; choose another."), field="username"
        )
    user = User(
        username=username,
        email=invitation.email,
        first_name=(first_name or "").strip()[:150],
        last_name=(last_name or "").strip()[:150],
    )
    try:
        validate_password(password, user)
    except ValidationError as error:
        raise ParkError("password_invalid", " ".join(error.messages), field="password") from None
    with transaction.atomic():
        user.set_password(password)
        user.save()
        invitation_accept(invitation=invitation, user=user, now=now)
    return user
