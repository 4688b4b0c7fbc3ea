"""Quota use is summed over usage sources that the apps holding capacity register.

``tenancy`` owns quotas and their use, but the hours are held by bookings and by compute jobs,
which depend on tenancy (not the reverse). Each of those apps registers a source at start-up
(``AppConfig.ready``): a function ``(tenant, resource_class, start, end, exclude_booking_id)``
→ hours (``Decimal``) held in [start, end). ``tenancy.selectors.used_hours`` adds them up.
"""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal

UsageSource = Callable[..., Decimal]

_sources: list[UsageSource] = []


def register_usage_source(source: UsageSource) -> UsageSource:
    """Add a source of held hours (once; registering it again has no effect)."""
    if source not in _sources:
        _sources.append(source)
    return source


def usage_sources() -> tuple[UsageSource, ...]:
    return tuple(_sources)
