"""Quota and weight changes, each recorded in the audit history in the same transaction."""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal

from django.db import transaction

from booking.errors import ParkError
from booking.tenancy.models import Quota, QuotaChange, Tenant, UserLanguage

_HOURS = Decimal("0.01")
_WEIGHT = Decimal("0.001")


def _as_decimal(value, *, field: str) -> Decimal:
    try:
        result = Decimal(str(value))
    except (ArithmeticError, ValueError):
        raise ParkError("invalid_number", f"{field} must be a number.", field=field) from None
    if not result.is_finite():
        raise ParkError("invalid_number", f"{field} must be a finite number.", field=field)
    return result


@transaction.atomic
def quota_set(
    *, tenant: Tenant, resource_class: str, period: str, hours, actor=None, note: str = ""
) -> Quota:
    """Create or change one quota (hours ≥ 0) and record old → new in the audit history."""
    new = _as_decimal(hours, field="hours").quantize(_HOURS, rounding=ROUND_HALF_UP)
    if new < 0:
        raise ParkError("quota_negative", "A quota cannot be negative.", field="hours")
    quota = (
        Quota.objects.select_for_update()
        .filter(tenant=tenant, resource_class=resource_class, period=period)
        .first()
    )
    old = quota.hours if quota else None
    if quota is None:
        quota = Quota(tenant=tenant, resource_class=resource_class, period=period, hours=new)
    quota.hours = new
    quota.full_clean()
    quota.save()
    if old != new:
        QuotaChange.objects.create(
            tenant=tenant,
            field=QuotaChange.Field.QUOTA,
            resource_class=resource_class,
            period=period,
            old_value=old,
            new_value=new,
            changed_by=actor,
            note=note,
        )
    return quota


@transaction.atomic
def quota_delete(*, quota: Quota, actor=None, note: str = "") -> None:
    QuotaChange.objects.create(
        tenant=quota.tenant,
        field=QuotaChange.Field.QUOTA,
        resource_class=quota.resource_class,
        period=quota.period,
        old_value=quota.hours,
        new_value=None,
        changed_by=actor,
        note=note or "deleted",
    )
    quota.delete()


@transaction.atomic
def quotas_scale(*, tenants, percent, actor=None) -> int:
    """Scale every quota of ``tenants`` by ``percent`` (e.g. 10 → +10 %, -25 → −25 %). Returns the count."""
    factor_pct = _as_decimal(percent, field="percent")
    if factor_pct <= -100:
        raise ParkError(
            "scale_out_of_range",
            "Must be above -100 (a quota cannot go negative).",
            field="percent",
        )
    if factor_pct > 1000:
        raise ParkError("scale_out_of_range", "Must be at most 1000.", field="percent")
    factor = (Decimal(100) + factor_pct) / Decimal(100)
    changed = 0
    quotas = Quota.objects.select_for_update().filter(tenant__in=tenants).select_related("tenant")
    for quota in quotas.order_by("pk"):
        quota_set(
            tenant=quota.tenant,
            resource_class=quota.resource_class,
            period=quota.period,
            hours=quota.hours * factor,
            actor=actor,
            note=f"scaled by {factor_pct}%",
        )
        changed += 1
    return changed


@transaction.atomic
def tenant_set_weight(*, tenant: Tenant, weight, actor=None, note: str = "") -> Tenant:
    """Change a tenant's fair-share weight (> 0) and record it in the audit history."""
    new = _as_decimal(weight, field="weight").quantize(_WEIGHT, rounding=ROUND_HALF_UP)
    if new <= 0:
        raise ParkError(
            "weight_not_positive", "A fair-share weight must be above 0.", field="weight"
        )
    locked = Tenant.objects.select_for_update().get(pk=tenant.pk)
    old = locked.weight
    if old != new:
        Tenant.objects.filter(pk=tenant.pk).update(weight=new)
        QuotaChange.objects.create(
            tenant=tenant,
            field=QuotaChange.Field.WEIGHT,
            old_value=old,
            new_value=new,
            changed_by=actor,
            note=note,
        )
    tenant.weight = new
    return tenant


def language_remember(*, user, language: str) -> None:
    """Keep the language ``user`` reads the site in, for the e-mails written to them."""
    UserLanguage.objects.update_or_create(user=user, defaults={"language": language[:10]})
