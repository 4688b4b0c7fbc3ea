"""Moments and days in messages, in the reader's locale.

Messages are written in the language of the request that receives them (the reader's), so
these use the active language's short formats rather than one fixed pattern.
"""

from __future__ import annotations

import datetime as dt

from django.utils import formats, timezone


def when_text(value: dt.datetime) -> str:
    """A moment in the park's time zone, in the active language's short date-time form."""
    return formats.date_format(timezone.localtime(value), "SHORT_DATETIME_FORMAT")


def day_text(value: dt.date) -> str:
    """A day in the active language's short date form."""
    return formats.date_format(value, "SHORT_DATE_FORMAT")
