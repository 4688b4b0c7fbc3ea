"""The operators' reports page over one year of a full-size park.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/park_w13 uv run python benchmarks/bench_reports.py
    uv run python benchmarks/bench_reports.py --smoke      # tiny park, SQLite, a few seconds
    ... bench_reports.py --keep [--queries]   # keep the database and reuse it; slowest queries

Builds, in a throw-away test database, the park of ``bench_booking_pages`` (200 resources,
100 tenants) with 500,000 bookings over a year; the past ones are closed as they would be
(9 in 10 completed with a usage record of 80 % of their booked hours, 1 in 10 no-shows),
tenants spread over the three tiers and both parks. Then renders ``/reports/`` (the full page:
four tables and two charts) for the whole year per month, once per grouping (class,
resource, tenant, tier, park), in-process with Django's test Client as an operator.

Printed: median, p90, p95 and max wall time (and the median CPU time) in milliseconds, the load average (the machine is
shared: wall times are noisy). Target: median < 300 ms.
"""

from __future__ import annotations

import argparse
import datetime as dt
import importlib.util
import os
import statistics
import sys
import time
from decimal import Decimal
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings_test")

GROUPS = ("class", "resource", "tenant", "tier", "park")
CPU_MS: list[float] = []  # the CPU time of each render (this process), filled by ``measure``


def _pages_bench():
    spec = importlib.util.spec_from_file_location(
        "bench_booking_pages", ROOT / "benchmarks" / "bench_booking_pages.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _top_up(park: dict, bookings: int) -> None:
    """The pages' park keeps only non-overlapping bookings per resource (about half of a
    year's 500,000); the rest go on the GPU nodes, which several bookings share (one GPU each)."""
    from django.contrib.auth import get_user_model
    from django.utils import timezone

    from booking.bookings.models import Booking, BookingStatus
    from booking.tenancy.models import Membership

    missing = bookings - Booking.objects.count()
    shared = [r for r in park["resources"] if r.capacity > 1]
    if missing <= 0 or not shared:
        return
    rng = park["rng"]
    users = list(get_user_model().objects.filter(username__startswith="u"))
    tenant_of = dict(Membership.objects.values_list("user_id", "tenant_id"))
    first = timezone.localdate() - dt.timedelta(days=182)
    tz = timezone.get_current_timezone()
    batch = []
    for k in range(missing):
        user = rng.choice(users)
        start = dt.datetime.combine(
            first + dt.timedelta(days=rng.randrange(365)), dt.time(rng.randrange(24)), tzinfo=tz
        )
        batch.append(
            Booking(
                tenant_id=tenant_of[user.pk],
                user=user,
                resource=rng.choice(shared),
                title=f"Shared run {k}",
                units=1,
                start=start,
                end=start + dt.timedelta(hours=rng.choice([1, 2, 3])),
                status=BookingStatus.CONFIRMED,
                exclusive=False,
            )
        )
        if len(batch) == 5000:
            Booking.objects.bulk_create(batch)
            batch = []
    Booking.objects.bulk_create(batch)


def build(*, resources: int, tenants: int, bookings: int) -> dict:
    from django.contrib.auth import get_user_model
    from django.utils import timezone

    from booking.bookings.models import Booking, BookingStatus
    from booking.bulk import insert_rows
    from booking.tenancy.models import Tenant
    from booking.usage.models import BookingUsage, UsageSource

    park = _pages_bench().build_park(resources=resources, tenants=tenants, bookings=bookings)
    _top_up(park, bookings)
    for i, tenant in enumerate(Tenant.objects.order_by("pk")):
        Tenant.objects.filter(pk=tenant.pk).update(
            tier=("startup", "enterprise", "academic")[i % 3], home_park=("hk", "sz")[i % 2]
        )
    now = timezone.now()
    past = Booking.objects.filter(start__lt=now - dt.timedelta(hours=1))
    rows, no_show, done = [], [], []
    for pk, start, end, units in past.values_list("pk", "start", "end", "units").iterator(
        chunk_size=20000
    ):
        hours = Decimal(units * (end - start).total_seconds() / 3600)
        if pk % 10 == 0:
            no_show.append(pk)
            rows.append((pk, UsageSource.NO_SHOW, True, False, Decimal(0), hours, now))
        else:
            done.append(pk)
            used = (hours * Decimal("0.8")).quantize(Decimal("0.0001"))
            rows.append((pk, UsageSource.CHECK_IN, False, False, used, used, now))
    for i in range(0, len(done), 20000):
        Booking.objects.filter(pk__in=done[i : i + 20000]).update(status=BookingStatus.COMPLETED)
    for i in range(0, len(no_show), 20000):
        Booking.objects.filter(pk__in=no_show[i : i + 20000]).update(status=BookingStatus.NO_SHOW)
    fields = [
        "booking_id",
        "source",
        "no_show",
        "closed_at_end",
        "used_hours",
        "charged_hours",
        "closed_at",
    ]
    for i in range(0, len(rows), 20000):
        insert_rows(BookingUsage, fields, rows[i : i + 20000])
    get_user_model().objects.create_superuser("bench-operator", "op@bench.example", "bench-pw")
    # The park was bulk-loaded: fill the daily usage tables from the rows at once, as
    # ``manage.py usage_rebuild_daily`` does (the journal the loading wrote is emptied with it).
    from booking.usage.daily import usage_rebuild

    t0 = time.perf_counter()
    usage_rebuild()
    print(f"daily usage tables rebuilt in {time.perf_counter() - t0:.1f} s")
    return {"closed": len(rows), "bookings": Booking.objects.count()}


def measure(*, runs: int) -> dict:
    from django.test import Client
    from django.utils import timezone

    client = Client()
    client.login(username="bench-operator", password="bench-pw")
    today = timezone.localdate()
    params = {
        "start": (today - dt.timedelta(days=182)).isoformat(),
        "end": (today + dt.timedelta(days=183)).isoformat(),
        "bucket": "month",
    }
    times: dict[str, list[float]] = {g: [] for g in GROUPS}
    cpu = CPU_MS
    for _ in range(runs):
        for group in GROUPS:
            t0, c0 = time.perf_counter(), time.process_time()
            response = client.get("/reports/", {**params, "group": group})
            times[group].append((time.perf_counter() - t0) * 1000)
            cpu.append((time.process_time() - c0) * 1000)
            assert response.status_code == 200, response.status_code
    return times


def report(times: dict, *, vendor: str, park: dict) -> str:
    cpu = sorted(CPU_MS or [0.0])
    every = sorted(t for values in times.values() for t in values)
    p90 = every[min(len(every) - 1, int(0.9 * len(every)))]
    p95 = every[min(len(every) - 1, int(0.95 * len(every)))]
    load = os.getloadavg()
    lines = [
        f"database: {vendor}; bookings: {park['bookings']} ({park['closed']} closed with usage); "
        f"load average {load[0]:.2f} {load[1]:.2f}",
        f"/reports/ for one year per month, {len(every)} renders: median "
        f"{statistics.median(every):.0f} ms, p90 {p90:.0f} ms, p95 {p95:.0f} ms, "
        f"max {every[-1]:.0f} ms; CPU time of this process: median "
        f"{statistics.median(cpu):.0f} ms",
    ]
    for group, values in times.items():
        lines.append(f"  by {group}: median {statistics.median(values):.0f} ms")
    lines.append(
        f"target: median < 300 ms — {'met' if statistics.median(every) < 300 else 'NOT met'}"
    )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--smoke", action="store_true", help="tiny park, few runs")
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument(
        "--keep", action="store_true", help="keep the built database and reuse it next time"
    )
    parser.add_argument("--queries", action="store_true", help="print the slowest queries")
    parser.add_argument("--resources", type=int, default=200)
    parser.add_argument("--tenants", type=int, default=100)
    parser.add_argument("--bookings", type=int, default=500_000)
    args = parser.parse_args(argv)
    if args.smoke:
        args.runs, args.resources, args.tenants, args.bookings = 2, 10, 5, 500

    import django

    django.setup()
    from django.db import connection
    from django.test.utils import setup_test_environment, teardown_test_environment

    setup_test_environment()
    connection.settings_dict.setdefault("TEST", {})["NAME"] = (
        f"{connection.settings_dict['NAME']}_bench_reports"
        if connection.vendor == "postgresql"
        else "park_bench_reports"
    )
    old_name = connection.creation.create_test_db(verbosity=0, autoclobber=True, keepdb=args.keep)
    try:
        from booking.bookings.models import Booking
        from booking.usage.models import BookingUsage

        if args.keep and Booking.objects.exists():
            park = {"bookings": Booking.objects.count(), "closed": BookingUsage.objects.count()}
            print("reusing the park built before (--keep)")
        else:
            t0 = time.perf_counter()
            park = build(resources=args.resources, tenants=args.tenants, bookings=args.bookings)
            print(f"built the park in {time.perf_counter() - t0:.1f} s")
        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                cursor.execute("VACUUM ANALYZE")
        slow: list[tuple[float, str]] = []
        if args.queries:

            def timed(execute, sql, params, many, context):
                t0 = time.perf_counter()
                try:
                    return execute(sql, params, many, context)
                finally:
                    slow.append(((time.perf_counter() - t0) * 1000, sql[:300]))

            with connection.execute_wrapper(timed):
                times = measure(runs=args.runs)
        else:
            times = measure(runs=args.runs)
        print(report(times, vendor=connection.vendor, park=park))
        if slow:
            renders = sum(len(v) for v in times.values())
            print(
                f"SQL: {len(slow) / renders:.0f} statements and "
                f"{sum(ms for ms, _ in slow) / renders:.0f} ms of wall time per render (mean)"
            )
        for ms, sql in sorted(slow, reverse=True)[:8]:
            print(f"  {ms:7.0f} ms  {sql}")
    finally:
        if not args.keep:
            connection.creation.destroy_test_db(old_name, verbosity=0)
        teardown_test_environment()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
