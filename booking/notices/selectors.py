"""Reads about a user's reminders: their preferences and the notices they were sent."""

from __future__ import annotations

from booking.notices.models import Notice, NoticePreference


def notice_preference_for(*, user) -> NoticePreference:
    """The user's preferences, or the defaults (unsaved) when they never changed them."""
    return NoticePreference.objects.filter(user=user).first() or NoticePreference(user=user)


def notices_recent(*, user, limit: int = 20) -> list[Notice]:
    """The user's own latest notices, newest first."""
    return list(Notice.objects.filter(user=user).order_by("-created_at", "-pk")[:limit])
