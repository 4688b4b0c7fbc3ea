"""The cost of a booking before it is sent, priced by the statements' own ``charges.Pricer``
(the rate version valid on the booking's start day, the tenant's tier, the peak/off-peak split,
the minimum charge, a GPU node's cluster factor), so an estimate and the later statement line
of the same booking used as booked agree to the cent."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal

from booking.billing import charges, services
from booking.billing.factors import cluster_factors
from booking.tenancy.models import Tenant
from resources.models import GpuNode, Resource


@dataclass(frozen=True)
class EstimateLine:
    kind: str  # usage, minimum
    band: str  # peak, off_peak or ""
    quantity: Decimal
    unit_price: Decimal
    amount: Decimal


@dataclass(frozen=True)
class Estimate:
    """What a booking would cost in HKD (``total``), its lines, and the total in RMB at the
    configured rate (None when no rate is configured)."""

    lines: tuple[EstimateLine, ...]
    total: Decimal
    unit: str  # hour, gpu_hour, run
    total_rmb: Decimal | None
    rmb_per_hkd: Decimal | None


def booking_estimate(
    *, tenant: Tenant, resource: Resource, start: dt.datetime, end: dt.datetime, units: int = 1
) -> Estimate | None:
    """The cost of booking ``resource`` from ``start`` to ``end`` (× ``units`` GPUs) for
    ``tenant`` if used as booked (no consumables: wafers are counted after the run).
    None: no rate card applies to this resource, tier and day."""
    cluster = ""
    if resource.kind == "gpu":
        cluster = (
            GpuNode.objects.filter(resource=resource)
            .values_list("slurm_cluster", flat=True)
            .first()
            or ""
        )
    rates = services.rate_book()
    pricer = charges.Pricer(rates=rates, tier=tenant.tier, factors=cluster_factors())
    with charges.pricing_zone():
        cost = pricer.add_usage(
            charges.Usage(
                resource_id=resource.pk,
                resource_class=resource.kind,
                resource_name=resource.name,
                start=int(start.timestamp()),
                end=int(end.timestamp()),
                units=units,
                no_show=False,
                cluster=cluster,
            )
        )
        if cost is None:
            return None
        rate = rates.find(
            resource_id=resource.pk,
            resource_class=resource.kind,
            tier=tenant.tier,
            day=charges._local_day(charges._local_seconds(start)),
        )
    order = {"usage": 0, "minimum": 1}
    lines = tuple(
        EstimateLine(
            kind=line.kind,
            band=line.band,
            quantity=line.quantity,
            unit_price=line.unit_price,
            amount=line.amount,
        )
        for line in sorted(
            pricer.lines(), key=lambda x: (order.get(x.kind, 2), x.band != charges.PEAK)
        )
    )
    total = sum((line.amount for line in lines), Decimal(0))
    per_hkd = services.rmb_rate()
    return Estimate(
        lines=lines,
        total=total,
        unit=rate.unit if rate else "hour",
        total_rmb=None if per_hkd is None else charges.money(total * per_hkd),
        rmb_per_hkd=per_hkd,
    )
