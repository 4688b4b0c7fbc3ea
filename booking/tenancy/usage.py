"""Quota use is summed over usage sources that the apps holding capacity register.

``tenancy`` owns quotas and their use, but the hours are held by bookings and by compute jobs,
which depend on tenancy (not the reverse). Each of those apps registers a source at start-up
(``AppConfig.ready``): a function ``(tenant, resource_class, start, end, exclude_booking_id)``
→ a ``UsageQuery`` (or None when it holds nothing of that class): one SELECT of aggregates
and how its row turns into hours held in [start, end). ``tenancy.selectors.used_hours`` runs
every source's query as one statement (quota checks are on the hot path of every booking
and job submission) and adds the hours up.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from decimal import Decimal


@dataclass(frozen=True)
class UsageQuery:
    """A SELECT of aggregates without GROUP BY (so exactly one row), its parameters, how many
    columns it returns, and the function from those columns to hours."""

    sql: str
    params: list
    width: int
    hours: Callable[[Sequence], Decimal]


UsageSource = Callable[..., UsageQuery | None]

_sources: list[UsageSource] = []


def register_usage_source(source: UsageSource) -> UsageSource:
    """Add a source of held hours (once; registering it again has no effect)."""
    if source not in _sources:
        _sources.append(source)
    return source


def usage_sources() -> tuple[UsageSource, ...]:
    return tuple(_sources)
