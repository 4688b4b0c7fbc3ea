"""The private iCal feed link of a member: create, regenerate (revokes the old one), resolve."""

from __future__ import annotations

import hashlib
import secrets

from django.db import transaction

from booking.errors import NotFound
from booking.models import CalendarFeedToken


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


@transaction.atomic
def calendar_feed_regenerate(*, user) -> str:
    """Issue a new secret for ``user``'s feed and return it (shown once; only its hash is kept).
    Any earlier link stops working at once."""
    token = secrets.token_urlsafe(32)
    CalendarFeedToken.objects.update_or_create(user=user, defaults={"token_hash": _hash(token)})
    return token


@transaction.atomic
def calendar_feed_revoke(*, user) -> None:
    CalendarFeedToken.objects.filter(user=user).delete()


def calendar_feed_user(*, token: str):
    """The user a feed secret belongs to; unknown or revoked secrets answer 404."""
    if not token or len(token) > 100:
        raise NotFound("calendar feed")
    row = (
        CalendarFeedToken.objects.select_related("user")
        .filter(token_hash=_hash(token), user__is_active=True)
        .first()
    )
    if row is None:
        raise NotFound("calendar feed")
    return row.user
