"""A month of bookings priced by the database: one query sums the bookings of every tenant up
by project, resource and rate version, with the same integer arithmetic as ``charges.Pricer``
(hours in millionths of an hour, prices in cents), so a month of a full park is a few
thousand rows for Python instead of a million.

The rate that applies to each resource, tier and day of the month is resolved in Python from
the ``RateBook`` (a resource's own card over its class's, the latest version by day) and
handed to the query as a temporary table of day ranges, with the cluster factor already in the
GPU-hour prices. Peak hours are computed in SQL from local seconds; that needs one UTC offset
for the whole month — in a time zone that changes its clocks during the month, the bookings
are priced row by row in Python instead (``usage_rows``), with the same result.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from decimal import Decimal

from django.db import connection
from django.db.models import BigIntegerField, F, Func
from django.utils import timezone

from booking.billing import charges
from booking.bookings.models import Booking, BookingStatus
from booking.tenancy.models import Tenant
from resources.models import Resource

TABLE = "billing_tmp_rate_period"


class Epoch(Func):
    """A timestamp as whole Unix seconds, computed by the database."""

    output_field = BigIntegerField()

    def as_sqlite(self, compiler, connection, **extra):
        # unixepoch() (SQLite 3.38+) is several times cheaper than strftime('%s'), and a
        # month of a full park reads five timestamps from each of a million bookings.
        if connection.Database.sqlite_version_info >= (3, 38):
            return self.as_sql(compiler, connection, template="unixepoch(%(expressions)s)")
        return self.as_sql(
            compiler, connection, template="CAST(strftime('%%%%s', %(expressions)s) AS INTEGER)"
        )

    def as_postgresql(self, compiler, connection, **extra):
        return self.as_sql(
            compiler, connection, template="CAST(EXTRACT(EPOCH FROM %(expressions)s) AS BIGINT)"
        )


def local(day: dt.date) -> dt.datetime:
    return dt.datetime.combine(day, dt.time.min, tzinfo=timezone.get_current_timezone())


def next_month(value: dt.date) -> dt.date:
    return (value.replace(day=28) + dt.timedelta(days=4)).replace(day=1)


def _bookings(month: dt.date, tenant_ids):
    qs = Booking.objects.filter(
        status__in=(BookingStatus.COMPLETED, BookingStatus.NO_SHOW),
        start__gte=local(month),
        start__lt=local(next_month(month)),
    )
    if tenant_ids is not None:
        qs = qs.filter(tenant_id__in=list(tenant_ids))
    return qs


def usage_rows(tenant: Tenant, month: dt.date) -> list[charges.Usage]:
    """One tenant's closed bookings of a month as rows for ``Pricer.add_usage``."""
    rows = (
        _bookings(month, [tenant.pk])
        .values_list(
            "resource_id",
            "resource__kind",
            "resource__name",
            Epoch("start"),
            Epoch("end"),
            "units",
            "status",
            "usage__used_hours",
            Epoch("usage__checked_in_at"),
            Epoch("usage__checked_out_at"),
            Epoch("usage__booked_end"),
            "line_run__wafers",
            "resource__gpu__slurm_cluster",
            "billing_link__project_id",
        )
        .order_by()
    )
    return [
        charges.Usage(
            resource_id=r[0],
            resource_class=r[1],
            resource_name=r[2],
            start=r[3],
            end=r[4],
            units=r[5],
            no_show=r[6] == BookingStatus.NO_SHOW,
            used_hours=r[7],
            checked_in_at=r[8],
            checked_out_at=r[9],
            booked_end=r[10],
            wafers=r[11] or 0,
            cluster=r[12] or "",
            project_id=r[13],
        )
        for r in rows.iterator(chunk_size=5000)
    ]


def month_offset(month: dt.date) -> int | None:
    """The UTC offset (seconds) of the whole month and a month beyond it (bookings end and are
    checked out after their month's end), or None when the clocks change in that time."""
    tz = timezone.get_current_timezone()
    first = int(local(month).timestamp()) - 86400
    last = int(local(next_month(next_month(month))).timestamp())
    offsets = {
        int(dt.datetime.fromtimestamp(ts, tz).utcoffset().total_seconds())
        for ts in range(first, last + 1, 3600)
    }
    return offsets.pop() if len(offsets) == 1 else None


def _cents(value: Decimal) -> int:
    return int(charges.money(value) * 100)


def _rate_periods(month: dt.date, rates: charges.RateBook, factors: dict, tiers) -> list[tuple]:
    """(id, resource, tier, first day, day after, rate...) rows: the rate of each resource and
    tier over runs of days of the month (days as local days since 1970-01-01)."""
    resources = Resource.objects.values_list("pk", "kind", "name", "gpu__slurm_cluster")
    days = []
    day = month
    while day < next_month(month):
        days.append(day)
        day += dt.timedelta(days=1)
    rows: list[tuple] = []
    self_rates: dict[int, charges.Rate] = {}
    for resource_id, kind, name, cluster in resources:
        for tier in tiers:
            run = None  # [rate, first day]
            for day in [*days, None]:
                rate = (
                    rates.find(resource_id=resource_id, resource_class=kind, tier=tier, day=day)
                    if day
                    else None
                )
                if run and (rate is None or rate.card_id != run[0].card_id):
                    period_id = len(rows) + 1
                    r = run[0]
                    factor = factors.get(cluster or "", Decimal(1))
                    if r.unit != "gpu_hour":
                        factor = Decimal(1)
                    charged = charges.Rate(
                        card_id=r.card_id,
                        unit=r.unit,
                        peak_price=charges.money(r.peak_price * factor),
                        off_peak_price=charges.money(r.off_peak_price * factor),
                        minimum_charge=r.minimum_charge,
                        no_show_per_hour=r.no_show_per_hour,
                        consumable_name=r.consumable_name,
                        consumable_price=r.consumable_price,
                    )
                    self_rates[period_id] = (charged, name)
                    end = day or next_month(month)
                    rows.append(
                        (
                            period_id,
                            resource_id,
                            tier,
                            run[1].toordinal() - 719163,
                            end.toordinal() - 719163,
                            1 if r.unit == "run" else 0,
                            _cents(charged.peak_price),
                            _cents(charged.off_peak_price),
                            _cents(r.minimum_charge),
                            _cents(r.no_show_per_hour),
                            _cents(r.consumable_price),
                        )
                    )
                    run = None
                if rate is not None and run is None:
                    run = [rate, day]
    return rows, self_rates


def _peak_before(t: str, start_h: int, end_h: int) -> str:
    """SQL for ``charges._peak_before`` of local seconds ``t`` (positive, so integer division
    floors as Python's does)."""
    daily = (end_h - start_h) * 3600
    x = f"({t} + 259200)"
    day = f"(({x} %% 604800) / 86400)"
    sec = f"(({x} %% 604800) %% 86400)"
    clamp = f"CASE WHEN {sec} - {start_h * 3600} < 0 THEN 0 WHEN {sec} - {start_h * 3600} > {daily} THEN {daily} ELSE {sec} - {start_h * 3600} END"  # noqa: E501
    return (
        f"(({x} / 604800) * {5 * daily} + CASE WHEN {day} < 5 THEN {day} * {daily} + {clamp}"
        f" ELSE {5 * daily} END)"
    )


def _sql(inner: str, offset: int) -> str:
    start_h, end_h = charges._peak_hours()
    pb_a, pb_b = _peak_before("a", start_h, end_h), _peak_before("b", start_h, end_h)
    pb_s, pb_s1 = _peak_before("ls", start_h, end_h), _peak_before("ls + 1", start_h, end_h)
    bigint = "BIGINT" if connection.vendor == "postgresql" else "INTEGER"
    greatest = "GREATEST" if connection.vendor == "postgresql" else "MAX"
    # u: a booking with its rate, hours in millionths, local times; v: peak seconds of its
    # interval (or whether a run starts in peak hours). Both are materialized so that each
    # value is computed once (the database would otherwise inline them into every use); then
    # the sums per tenant, project, resource, rate and no-show.
    return f"""
    WITH u AS MATERIALIZED (
      SELECT u.t, u.p, u.r, COALESCE(u.wf, 0) AS wf, q.id AS pid, q.run, q.peak_c, q.off_c,
        q.min_c,
        CASE WHEN u.st = '{BookingStatus.NO_SHOW}' THEN 1 ELSE 0 END AS ns,
        u.s + {offset} AS ls,
        COALESCE(u.ci, u.s) + {offset} AS a,
        COALESCE(u.co, u.e) + {offset} AS b,
        (u.units * (COALESCE(u.be, u.e) - u.s) * 1000000 + 1800) / 3600 AS bh,
        CAST(ROUND(u.uh * 1000000) AS {bigint}) AS um
      FROM ({inner}) u
      JOIN {TABLE} q ON q.resource_id = u.r AND q.tier = u.tier
        AND (u.s + {offset}) / 86400 >= q.d0 AND (u.s + {offset}) / 86400 < q.d1
    ), v AS MATERIALIZED (
      SELECT t, p, r, wf, pid, run, peak_c, off_c, min_c, ns, bh,
        COALESCE(um, bh) AS hm, b - a AS len,
        CASE WHEN run = 0 AND ns = 0 AND b > a THEN {pb_b} - {pb_a} ELSE 0 END AS pk,
        CASE WHEN run = 1 AND ns = 0 THEN {pb_s1} - {pb_s} ELSE 0 END AS rp
      FROM u
    )
    SELECT t, p, r, pid, ns, COUNT(*), SUM(bh), SUM(pm), SUM(hm),
      SUM(CASE WHEN pm > 0 THEN 1 ELSE 0 END), SUM(CASE WHEN hm > pm THEN 1 ELSE 0 END),
      SUM(rp),
      SUM({greatest}(min_c * 1000000 - CASE WHEN run = 1
            THEN (CASE WHEN rp = 1 THEN peak_c ELSE off_c END) * 1000000
            ELSE pm * peak_c + (hm - pm) * off_c END, 0)),
      SUM(wf), SUM(CASE WHEN wf > 0 THEN 1 ELSE 0 END)
    FROM (
      SELECT v.*, CASE WHEN pk > 0 THEN (2 * hm * pk + len) / (2 * len) ELSE 0 END AS pm
      FROM v
    ) w
    GROUP BY t, p, r, pid, ns
    """


def price_usage(
    *, month: dt.date, rates: charges.RateBook, factors: dict, tenant_ids=None
) -> dict[int, list[charges.Group]] | None:
    """The month's closed bookings summed up per tenant (None: the clocks change this month,
    price row by row instead)."""
    offset = month_offset(month)
    if offset is None:
        return None
    tenants = Tenant.objects.all()
    if tenant_ids is not None:
        tenants = tenants.filter(pk__in=list(tenant_ids))
    tiers = sorted(set(tenants.values_list("tier", flat=True)))
    periods, period_rates = _rate_periods(month, rates, factors, tiers)
    inner_qs = (
        _bookings(month, tenant_ids)
        .values(
            t=F("tenant_id"),
            tier=F("tenant__tier"),
            p=F("billing_link__project_id"),
            r=F("resource_id"),
            s=Epoch("start"),
            e=Epoch("end"),
            st=F("status"),
            uh=F("usage__used_hours"),
            ci=Epoch("usage__checked_in_at"),
            co=Epoch("usage__checked_out_at"),
            be=Epoch("usage__booked_end"),
            wf=F("line_run__wafers"),
        )
        .annotate(units=F("units"))
        .order_by()
    )
    inner, params = inner_qs.query.sql_with_params()
    out: dict[int, list[charges.Group]] = defaultdict(list)
    with connection.cursor() as cursor:
        cursor.execute(
            f"CREATE TEMPORARY TABLE IF NOT EXISTS {TABLE} (id integer, resource_id integer,"
            " tier varchar(20), d0 integer, d1 integer, run integer, peak_c bigint,"
            " off_c bigint, min_c bigint, ns_c bigint, cons_c bigint)"
        )
        cursor.execute(f"CREATE INDEX IF NOT EXISTS {TABLE}_key ON {TABLE} (resource_id, tier)")
        cursor.execute(f"DELETE FROM {TABLE}")
        if periods:
            cursor.executemany(
                f"INSERT INTO {TABLE} VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)",
                periods,
            )
        try:
            cursor.execute(_sql(inner, offset), params)
            rows = cursor.fetchall()
        finally:
            cursor.execute(f"DELETE FROM {TABLE}")
    for t, p, r, pid, ns, n, bh, pm, hm, peak_n, off_n, rp, topup, wafers, wafers_n in rows:
        rate, name = period_rates[pid]
        g = charges.Group(p, r, name, rate)
        if ns:
            if rate.no_show_per_hour:
                g.no_show_m, g.no_show_n = int(bh), n
        else:
            if rate.unit == "run":
                g.peak_runs, g.off_runs = int(rp), n - int(rp)
            else:
                g.peak_m, g.peak_n = int(pm), peak_n
                g.off_m, g.off_n = int(hm) - int(pm), off_n
            g.topup_e8 = int(topup or 0) if rate.minimum_charge else 0
            if rate.consumable_price and wafers:
                g.wafers, g.wafers_n = int(wafers), wafers_n
        out[t].append(g)
    return out
