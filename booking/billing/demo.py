"""Billing for the demo park: rate cards for every resource class and tier, a factor for the
GBA cluster, a project per tenant beside its default, and statements (last month closed, this
month a draft following usage). For the demo builder to call after it has made its tenants,
resources and closed bookings; calling it again changes nothing that exists."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from django.utils import timezone

from booking.billing import services
from booking.billing.models import ClusterFactor, Project, RateCard, Statement
from booking.tenancy.models import Tenant

# HKD per hour / run / GPU-hour, peak; off-peak is 60 % of it. Start-ups pay least.
PRICES = {
    "gpu": ("gpu_hour", {"startup": "18.00", "academic": "22.00", "enterprise": "38.00"}),
    "line": ("run", {"startup": "2400.00", "academic": "2800.00", "enterprise": "5200.00"}),
    "instrument": ("hour", {"startup": "120.00", "academic": "150.00", "enterprise": "260.00"}),
}


def demo_billing(*, now: dt.datetime | None = None, gba_factor: str = "0.850") -> dict:
    """Set billing up for the demo; returns what was made."""
    now = now or timezone.now()
    this_month = timezone.localdate(now).replace(day=1)
    last_month = (this_month - dt.timedelta(days=1)).replace(day=1)
    made = {"rate_cards": 0, "projects": 0, "statements": 0}
    valid_from = (last_month - dt.timedelta(days=1)).replace(day=1)
    for kind, (unit, tiers) in PRICES.items():
        for tier, price in tiers.items():
            if RateCard.objects.filter(resource_class=kind, tier=tier).exists():
                continue
            peak = Decimal(price)
            RateCard.objects.create(
                resource_class=kind,
                tier=tier,
                unit=unit,
                peak_price=peak,
                off_peak_price=(peak * Decimal("0.6")).quantize(Decimal("0.01")),
                minimum_charge=Decimal("50.00") if unit == "hour" else Decimal(0),
                no_show_per_hour=(peak * Decimal("0.5")).quantize(Decimal("0.01"))
                if unit != "run"
                else Decimal(0),
                consumable_name="wafers" if kind == "line" else "",
                consumable_price=Decimal("350.00") if kind == "line" else Decimal(0),
                valid_from=valid_from,
            )
            made["rate_cards"] += 1
    ClusterFactor.objects.get_or_create(cluster="gba", defaults={"factor": Decimal(gba_factor)})
    for tenant in Tenant.objects.filter(active=True):
        services.default_project(tenant)
        if not Project.objects.filter(tenant=tenant, is_default=False).exists():
            services.project_create(
                tenant=tenant,
                name="Pilot study",
                principal_investigator=tenant.name[:120],
                funding_code=f"ITF-{tenant.slug[:10].upper()}",
                budget=Decimal("50000.00"),
            )
            made["projects"] += 1
    if not Statement.objects.filter(month=last_month, status="final").exists():
        made["statements"] += services.statements_close_month(month=last_month, now=now)["closed"]
    for tenant in Tenant.objects.filter(active=True):
        statement = services.statement_for(tenant=tenant, month=this_month)
        if not statement.is_final:
            services.statement_refresh(statement=statement, now=now)
            made["statements"] += 1
    return made
