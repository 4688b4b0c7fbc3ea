"""Closing a month of statements for a full-size park.

    uv run python benchmarks/bench_statements.py                 # 200 tenants × 5,000, SQLite
    uv run python benchmarks/bench_statements.py --smoke         # tiny, a few seconds
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/park_w14 uv run python benchmarks/bench_statements.py

Builds, in a throw-away test database, 200 tenants (spread over the three tiers) with 5,000
closed bookings each in March 2026 (9 in 10 completed with a usage record — half with check-in
and check-out times, a share on GPU nodes of two clusters, some line runs with wafers —, 1 in
10 no-shows), 50 finished pool jobs per tenant, and rate cards per class × tier with a second
version in mid-month and a few per resource. Bench rows are inserted as non-exclusive bookings
so a whole month fits on a few resources (the PostgreSQL exclusion constraint is not what is
measured). Then closes the month with ``statements_close_month`` (what ``manage.py
statements_close --month 2026-03`` runs) and checks that every total is the sum of its lines.

Printed: build time, close time (target < 10 s), statements, lines, the sum of totals and the
load average (the machine is shared: wall times are noisy).
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import random
import sys
import time
from decimal import Decimal
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings_test")

MONTH = dt.date(2026, 3, 1)
TIERS = ("startup", "enterprise", "academic")


def build(*, tenants: int, per_tenant: int, jobs_per_tenant: int = 50, seed: int = 14) -> dict:
    from django.contrib.auth import get_user_model
    from django.utils import timezone

    from booking.billing.models import ClusterFactor, RateCard
    from booking.bookings.models import Booking
    from booking.bulk import insert_rows
    from booking.compute.models import ComputeJob
    from booking.tenancy.models import Tenant
    from booking.usage.models import BookingUsage, LineRun
    from resources.models import GpuNode, Location, Resource, ResourceKind, ResourcePool

    rng = random.Random(seed)
    tz = timezone.get_current_timezone()
    now = timezone.now()
    User = get_user_model()
    site = Location.objects.create(name="Bench park", level="park", park="hk")
    kinds = [ResourceKind.GPU_NODE] * 8 + [ResourceKind.PILOT_LINE] * 2
    kinds += [ResourceKind.LAB_INSTRUMENT] * 10
    resources = []
    for i, kind in enumerate(kinds):
        r = Resource.objects.create(
            name=f"Bench {kind} {i:02d}", slug=f"bench-{i:02d}", kind=kind, location=site
        )
        if kind == ResourceKind.GPU_NODE:
            GpuNode.objects.create(
                resource=r,
                gpu_model="A100",
                gpu_count=8,
                gpu_memory_gb=80,
                cpus=64,
                memory_gb=512,
                slurm_cluster="gba" if i % 2 else "park",
                slurm_partition="gpu",
                slurm_node=f"n{i}",
            )
        resources.append(r)
    pool = ResourcePool.objects.create(name="Bench GPUs", slug="bench-gpus", kind="gpu")
    pool.members.set([r for r in resources if r.kind == ResourceKind.GPU_NODE])
    ClusterFactor.objects.create(cluster="gba", factor=Decimal("0.850"))
    unit = {"gpu": "gpu_hour", "line": "run", "instrument": "hour"}
    for t, tier in enumerate(TIERS):
        for kind in ("gpu", "line", "instrument"):
            for valid_from, bump in ((dt.date(2026, 1, 1), 0), (dt.date(2026, 3, 16), 5)):
                base = Decimal(40 + 20 * t + bump)
                RateCard.objects.create(
                    resource_class=kind,
                    tier=tier,
                    unit=unit[kind],
                    peak_price=base * (100 if kind == "line" else 1),
                    off_peak_price=base * Decimal("0.6") * (100 if kind == "line" else 1),
                    minimum_charge=Decimal("30.00"),
                    no_show_per_hour=Decimal("20.00"),
                    consumable_name="wafers" if kind == "line" else "",
                    consumable_price=Decimal("350.00") if kind == "line" else Decimal(0),
                    valid_from=valid_from,
                )
        RateCard.objects.create(
            resource=resources[-1],
            tier=tier,
            unit="hour",
            peak_price=Decimal("250.00"),
            off_peak_price=Decimal("180.00"),
            valid_from=dt.date(2026, 1, 1),
        )
    technician = User.objects.create_user("bench-tech", "tech@bench.example")
    month_start = dt.datetime(2026, 3, 1, tzinfo=tz)
    month_hours = 31 * 24 - 8
    booking_fields = [
        "tenant_id", "user_id", "resource_id", "title", "units", "start", "end", "status",
        "priority", "reason_code", "reason_text", "exclusive", "created_at", "updated_at", "cpus",
        "memory_gb",
    ]  # fmt: skip
    usage_fields = [
        "booking_id", "source", "no_show", "closed_at_end", "used_hours", "charged_hours",
        "closed_at", "checked_in_at", "checked_out_at",
    ]  # fmt: skip
    job_fields = [
        "tenant_id", "user_id", "pool_id", "name", "script", "partition", "gpus", "cpus",
        "memory_mb", "time_limit_minutes", "state", "submit_attempts", "last_error", "reason",
        "gpu_hours", "started_at", "ended_at", "created_at", "updated_at", "reason_code",
        "reason_params", "cancel_attempts", "data_class", "claim_token",
    ]  # fmt: skip
    records = 0
    for n in range(tenants):
        tenant = Tenant.objects.create(
            name=f"Bench tenant {n:03d}",
            slug=f"bench-{n:03d}",
            tier=TIERS[n % 3],
            home_park="hk",
            weight=1,
            slurm_account=f"bench{n:03d}",
        )
        user = User.objects.create_user(f"bench-user-{n:03d}", f"u{n}@bench.example")
        meta = []
        rows = []
        for _ in range(per_tenant):
            r = rng.choice(resources)
            start = month_start + dt.timedelta(hours=rng.randrange(month_hours))
            hours = 6 if r.kind == ResourceKind.PILOT_LINE else rng.choice((1, 2, 3, 4))
            units = rng.choice((1, 2, 4)) if r.kind == ResourceKind.GPU_NODE else 1
            no_show = rng.random() < 0.1
            end = start + dt.timedelta(hours=hours)
            rows.append(
                (tenant.pk, user.pk, r.pk, "bench", units, start, end,
                 "no_show" if no_show else "completed", 0, "", "", False, now, now, 0, 0)
            )  # fmt: skip
            meta.append((r, start, end, units, hours, no_show))
        insert_rows(Booking, booking_fields, rows)
        ids = list(
            Booking.objects.filter(tenant=tenant).order_by("pk").values_list("pk", flat=True)
        )
        usage, runs = [], []
        for pk, (r, start, end, units, hours, no_show) in zip(ids, meta, strict=True):
            if no_show:
                usage.append((pk, "no_show", True, False, None, Decimal(0), end, None, None))
                continue
            used = Decimal(units * hours) * Decimal("0.9")
            checked = rng.random() < 0.5
            usage.append(
                (pk, "check_in", False, False, used.quantize(Decimal("0.0001")), used, end,
                 start if checked else None,
                 start + dt.timedelta(hours=hours * 0.9) if checked else None)
            )  # fmt: skip
            if r.kind == ResourceKind.PILOT_LINE:
                runs.append((pk, technician.pk, start, end, "", rng.randrange(1, 25), "", now))
        insert_rows(BookingUsage, usage_fields, usage)
        if runs:
            insert_rows(
                LineRun,
                ["booking_id", "technician_id", "actual_start", "actual_end", "lots", "wafers",
                 "notes", "completed_at"],
                runs,
            )  # fmt: skip
        jobs = []
        for _ in range(jobs_per_tenant):
            started = month_start + dt.timedelta(hours=rng.randrange(month_hours))
            length = rng.choice((1, 2, 5, 10))
            gpus = rng.choice((1, 2, 4, 8))
            jobs.append(
                (tenant.pk, user.pk, pool.pk, "train", "#!/bin/sh", "gpu", gpus, 8, 1024,
                 length * 60, "completed", 1, "", "", Decimal(gpus * length), started,
                 started + dt.timedelta(hours=length), now, now, "", {}, 0, "open", "")
            )  # fmt: skip
        insert_rows(ComputeJob, job_fields, jobs)
        records += len(usage)
    return {"tenants": tenants, "records": records}


def measure() -> dict:
    from django.db.models import Sum
    from django.utils import timezone

    from booking.billing.models import Statement, StatementLine
    from booking.billing.services import statements_close_month

    t0, c0 = time.perf_counter(), time.process_time()
    result = statements_close_month(month=MONTH, now=timezone.now())
    seconds, cpu = time.perf_counter() - t0, time.process_time() - c0
    totals = Statement.objects.filter(month=MONTH).aggregate(t=Sum("total"))["t"] or Decimal(0)
    lines = StatementLine.objects.filter(statement__month=MONTH).aggregate(t=Sum("amount"))["t"]
    mismatched = [
        s.pk
        for s in Statement.objects.filter(month=MONTH).annotate(lines_sum=Sum("lines__amount"))
        if (s.lines_sum or Decimal(0)) != s.total
    ]
    return {
        "seconds": seconds,
        "cpu": cpu,
        "closed": result["closed"],
        "final": Statement.objects.filter(month=MONTH, status="final").count(),
        "lines": StatementLine.objects.filter(statement__month=MONTH).count(),
        "total": Decimal(totals).quantize(Decimal("0.01")),
        "lines_total": Decimal(lines or 0).quantize(Decimal("0.01")),
        "mismatched": mismatched,
    }


def report(figures: dict, *, vendor: str, park: dict, build_seconds: float) -> str:
    load = os.getloadavg()
    ok = figures["seconds"] < 10
    return "\n".join(
        [
            f"database: {vendor}; {park['tenants']} tenants, {park['records']} usage records; "
            f"built in {build_seconds:.1f} s; load average {load[0]:.2f} {load[1]:.2f}",
            f"closed {figures['closed']} statements of {MONTH:%Y-%m} in "
            f"{figures['seconds']:.2f} s (CPU of this process {figures['cpu']:.2f} s; {figures['seconds'] / max(1, figures['closed']) * 1000:.0f}"
            f" ms per tenant); {figures['lines']} lines; total HKD {figures['total']:,}",
            f"every total = the sum of its lines: "
            f"{'yes' if not figures['mismatched'] and figures['total'] == figures['lines_total'] else 'NO'}",
            f"target: < 10 s — {'met' if ok else 'NOT met'}",
        ]
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--smoke", action="store_true", help="5 tenants × 200 records")
    parser.add_argument("--tenants", type=int, default=200)
    parser.add_argument("--records", type=int, default=5000, help="usage records per tenant")
    args = parser.parse_args(argv)
    if args.smoke:
        args.tenants, args.records = 5, 200

    import django

    django.setup()
    from django.db import connection, transaction
    from django.test.utils import setup_test_environment, teardown_test_environment

    setup_test_environment()
    # A file on SQLite (as the park runs it), a database of its own on PostgreSQL.
    name = "park_bench_statements"
    if connection.vendor == "sqlite":
        (ROOT / "var").mkdir(exist_ok=True)
        name = str(ROOT / "var" / "park_bench_statements.sqlite3")
    connection.settings_dict.setdefault("TEST", {})["NAME"] = name
    old_name = connection.creation.create_test_db(verbosity=0, autoclobber=True, keepdb=False)
    try:
        t0 = time.perf_counter()
        with transaction.atomic():  # one commit: the build is not what is measured
            park = build(tenants=args.tenants, per_tenant=args.records)
        build_seconds = time.perf_counter() - t0
        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                cursor.execute("ANALYZE")
        figures = measure()
        print(report(figures, vendor=connection.vendor, park=park, build_seconds=build_seconds))
    finally:
        connection.creation.destroy_test_db(old_name, verbosity=0)
        teardown_test_environment()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
