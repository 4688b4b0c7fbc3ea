"""Where the apps above ``tenancy`` act when a member leaves a tenant.

``tenancy`` removes the membership; the member's bookings belong to ``bookings``, which depends
on tenancy (not the reverse). ``BookingsConfig.ready`` registers its handler here: called with
``user_id``, ``tenant_id``, ``actor`` and ``now`` inside the removal's transaction (so the
removal and what the handler does commit together or not at all), it returns how many of the
member's things it handled. A removal with no handler registered is an error.
"""

from __future__ import annotations

from collections.abc import Callable

from django.core.exceptions import ImproperlyConfigured

LeaveHandler = Callable[..., int]

_leave_handlers: list[LeaveHandler] = []


def on_member_leaving(handler: LeaveHandler) -> LeaveHandler:
    """Register ``handler(user_id=…, tenant_id=…, actor=…, now=…) -> int`` (once)."""
    if handler not in _leave_handlers:
        _leave_handlers.append(handler)
    return handler


def member_leaving(*, user_id: int, tenant_id: int, actor, now) -> int:
    """Run every registered handler; the sum of what they handled."""
    if not _leave_handlers:
        raise ImproperlyConfigured("no handler for a member leaving is registered")
    return sum(
        handler(user_id=user_id, tenant_id=tenant_id, actor=actor, now=now)
        for handler in list(_leave_handlers)
    )
