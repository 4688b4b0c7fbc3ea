"""The acting tenant's quotas and what it has used of them in the current periods."""

from __future__ import annotations

from django.http import HttpRequest
from ninja import Router

from booking.api_common import Slug, responses
from booking.errors import NotFound
from booking.tenancy.schemas import UsageOut
from booking.tenancy.selectors import quota_uses

# Mounted with the read scope's auth by config/api.py (tenancy sits below the tokens app).
router = Router()


def _usage(tenant) -> dict:
    return {
        "tenant": tenant.slug,
        "quotas": [
            {
                "resource_class": use.resource_class,
                "period": use.period,
                "period_start": use.period_start,
                "period_end": use.period_end,
                "quota_hours": use.quota_hours,
                "used_hours": use.used_hours,
                "left_hours": use.left_hours,
                "percent": use.percent,
            }
            for use in quota_uses(tenant=tenant)
        ],
    }


@router.get("/quotas", response=responses({200: UsageOut}, without=(409, 422)))
def quota_list(request: HttpRequest):
    """Quotas and use of the acting tenant (the token's tenant)."""
    return _usage(request.auth.tenant)


@router.get("/tenants/{slug}/usage", response=responses({200: UsageOut}, without=(409,)))
def tenant_usage(request: HttpRequest, slug: Slug):
    """The same, addressed by tenant slug; any tenant but the acting one is 404."""
    if slug != request.auth.tenant.slug:
        raise NotFound("tenant")
    return _usage(request.auth.tenant)
