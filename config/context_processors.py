"""Template context every page shares: the tenants the signed-in user manages (for the
navigation) and whether they approve anything (the approvals queue), read only when a template
asks."""

from __future__ import annotations

from django.utils.functional import SimpleLazyObject

from booking.approvals.selectors import approves_anything
from booking.tenancy.selectors import managed_tenants


def navigation(request) -> dict:
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {"managed_tenants": [], "approves": False}
    return {
        "managed_tenants": SimpleLazyObject(lambda: managed_tenants(user=user)),
        # Lazy, so a page without the navigation asks nothing.
        "approves": SimpleLazyObject(lambda: approves_anything(user=user)),
    }
