"""The month summed up by the database gives the same lines as pricing each booking in Python
(the same integer rules), and a time zone that changes its clocks falls back to the rows."""

from __future__ import annotations

import datetime as dt
import importlib.util
import zoneinfo
from pathlib import Path

import pytest
from django.utils import timezone

from booking.billing import charges, monthly, services
from booking.tenancy.models import Tenant

BENCH = Path(__file__).resolve().parents[2] / "benchmarks" / "bench_statements.py"
MARCH = dt.date(2026, 3, 1)


def _bench():
    spec = importlib.util.spec_from_file_location("bench_statements", BENCH)
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    return bench


def _lines(pricer: charges.Pricer) -> list[tuple]:
    return sorted(
        (line.project_id, line.kind, line.resource_id, line.band, line.unit_price, line.quantity,
         line.amount, line.items)
        for line in pricer.lines()
    )  # fmt: skip


@pytest.mark.slow
def test_database_sums_equal_pricing_each_booking(db):
    _bench().build(tenants=3, per_tenant=300, jobs_per_tenant=0)
    rates, factors = services.rate_book(), services.cluster_factors()
    groups = monthly.price_usage(month=MARCH, rates=rates, factors=factors)
    assert groups is not None
    kinds: set[str] = set()
    for tenant in Tenant.objects.all():
        by_rows = charges.Pricer(rates=rates, tier=tenant.tier, factors=factors)
        by_sums = charges.Pricer(rates=rates, tier=tenant.tier, factors=factors)
        with charges.pricing_zone():
            for usage in monthly.usage_rows(tenant, MARCH):
                by_rows.add_usage(usage)
        for group in groups[tenant.pk]:
            by_sums.add_group(group)
        kinds |= {line[1] for line in _lines(by_rows)}
        assert _lines(by_sums) == _lines(by_rows)
    assert {"usage", "no_show", "consumable", "minimum"} <= kinds


def test_a_month_with_a_clock_change_is_priced_row_by_row(db):
    with timezone.override(zoneinfo.ZoneInfo("Europe/London")):
        assert monthly.month_offset(MARCH) is None  # summer time starts on 29 March
        assert monthly.price_usage(month=MARCH, rates=services.rate_book(), factors={}) is None
        assert monthly.month_offset(dt.date(2026, 6, 1)) == 3600
    assert monthly.month_offset(MARCH) == 8 * 3600
