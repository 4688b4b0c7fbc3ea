"""Fixed formats for values stored in text (event notes, stored reasons)."""

from __future__ import annotations

import datetime as dt

from django.utils import timezone


def fmt_minute(value: dt.datetime) -> str:
    """``YYYY-MM-DD HH:MM`` in the park's time zone."""
    return timezone.localtime(value).strftime("%Y-%m-%d %H:%M")
