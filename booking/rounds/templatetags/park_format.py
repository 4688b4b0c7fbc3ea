"""Durations as people in the park say them: hours and days rather than minutes."""

from __future__ import annotations

from django import template
from django.utils.translation import gettext, ngettext

register = template.Library()


def duration_words(minutes: int | None) -> str:
    """240 → "4 h", 4320 → "3 days", 90 → "1 h 30 min", 45 → "45 min" (in the active language)."""
    if minutes is None:
        return ""
    minutes = int(minutes)
    if minutes >= 1440 and minutes % 1440 == 0:
        days = minutes // 1440
        return ngettext("%(n)s day", "%(n)s days", days) % {"n": days}
    if minutes >= 60 and minutes % 60 == 0:
        return gettext("%(n)s h") % {"n": minutes // 60}
    if minutes > 60:
        return gettext("%(h)s h %(m)s min") % {"h": minutes // 60, "m": minutes % 60}
    return gettext("%(n)s min") % {"n": minutes}


@register.filter
def duration(minutes) -> str:
    return duration_words(minutes)
