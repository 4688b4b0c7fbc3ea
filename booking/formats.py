"""Moments and days in messages, in the reader's locale.

Messages are written in the language of the request that receives them (the reader's), so
these use the active language's short formats rather than one fixed pattern.
"""

from __future__ import annotations

import datetime as dt

from django.utils import formats, timezone
from django.utils.translation import gettext as _


def when_text(value: dt.datetime) -> str:
    """A moment in the park's time zone, in the active language's short date-time form."""
    return formats.date_format(timezone.localtime(value), "SHORT_DATETIME_FORMAT")


def day_text(value: dt.date) -> str:
    """A day in the active language's short date form."""
    return formats.date_format(value, "SHORT_DATE_FORMAT")


def duration_text(minutes: int) -> str:
    """A length of time in hours and minutes ("2 h 30 min") in the active language."""
    hours, rest = divmod(int(minutes), 60)
    if not hours:
        return _("%(minutes)s min") % {"minutes": rest}
    if not rest:
        return _("%(hours)s h") % {"hours": hours}
    return _("%(hours)s h %(minutes)s min") % {"hours": hours, "minutes": rest}
