"""Converting between datetimes and slots.

Slot ``n`` covers ``[round_start + n*slot, round_start + (n+1)*slot)``. Starts are rounded *up*
to the next slot boundary and ends *down* (``to_slot(..., round_up=...)``) so a converted window
never grows beyond the one the user gave. Use timezone-aware datetimes throughout.
"""

from __future__ import annotations

import math
from datetime import datetime, timedelta


def to_slot(moment: datetime, round_start: datetime, slot_minutes: int, *, round_up: bool) -> int:
    """The slot boundary at or after (``round_up=True``) / at or before ``moment``."""
    seconds = (moment - round_start).total_seconds()
    slots = seconds / (slot_minutes * 60)
    # A tiny tolerance so 10:00:00.000001 after a float round trip does not jump a whole slot.
    if abs(slots - round(slots)) < 1e-9:
        return int(round(slots))
    return math.ceil(slots) if round_up else math.floor(slots)


def to_datetime(slot: int, round_start: datetime, slot_minutes: int) -> datetime:
    """The moment slot ``slot`` begins."""
    return round_start + timedelta(minutes=slot * slot_minutes)


def window_to_slots(
    start: datetime, end: datetime, round_start: datetime, slot_minutes: int
) -> tuple[int, int]:
    """A datetime window as the largest slot window ``[a, b)`` inside it."""
    return (
        to_slot(start, round_start, slot_minutes, round_up=True),
        to_slot(end, round_start, slot_minutes, round_up=False),
    )


def hours_to_slots(hours: float, slot_minutes: int) -> int:
    """A duration in hours as whole slots, rounded up (a 90-minute run needs two 1-hour slots)."""
    return math.ceil(hours * 60 / slot_minutes - 1e-9)
