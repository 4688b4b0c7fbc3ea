"""The no-show sweep over 10,000 due bookings.

    uv run python benchmarks/bench_no_show.py                 # SQLite, 10,000 due bookings
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/park_wt13 uv run python benchmarks/bench_no_show.py
    uv run python benchmarks/bench_no_show.py --smoke         # 300 bookings, a few seconds

Builds, in a throw-away test database, 100 lab instruments, 50 tenants with a member and a
manager each, and ``--due`` confirmed bookings whose check-in window has closed without a
check-in (plus as many bookings still to come, which the sweep must leave alone), then runs:

- the sweep itself (``usage_close_due``: each booking through ``booking_transition`` with its
  event and usage row, in its own transaction) — what the periodic task does in the minute;
- the follow-up the task hands to the worker: the no-show e-mails to owner and managers (in
  their languages, Django's in-memory mail backend; measured on the first 1,000 no-shows)
  and the waitlist offer.

Printed: wall and CPU seconds of each, bookings per second, SQL statements (the sweep works in batches), the
load average (the machine is shared: wall times are noisy, CPU time less so). Target: the
sweep over 10,000 due bookings in < 5 s.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import random
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings_test")


# E-mails are measured on a sample: they are sent by the worker after the sweep, not in it.
MAIL_SAMPLE = 1000


def build(*, due: int, resources: int = 100, tenants: int = 50, seed: int = 13) -> dict:
    from django.contrib.auth import get_user_model
    from django.contrib.auth.hashers import make_password
    from django.utils import timezone

    from benchmarks.instruments import bench_instruments
    from booking.bookings.models import Booking, BookingStatus
    from booking.tenancy.models import Membership, Tenant
    from booking.usage.models import UserLanguage

    rng = random.Random(seed)
    User = get_user_model()
    instruments = bench_instruments(resources)
    password = make_password("bench-pw")
    users = User.objects.bulk_create(
        User(username=f"u{i:04d}", email=f"u{i:04d}@bench.example", password=password)
        for i in range(2 * tenants)
    )
    users = list(User.objects.filter(username__startswith="u").order_by("pk"))
    Tenant.objects.bulk_create(
        Tenant(
            name=f"Tenant {i:03d}",
            slug=f"t{i:03d}",
            tier=rng.choice(["startup", "enterprise", "academic"]),
            home_park=rng.choice(["hk", "sz"]),
            slurm_account=f"t{i:03d}",
        )
        for i in range(tenants)
    )
    tenant_rows = list(Tenant.objects.order_by("pk"))
    members = []
    for i, tenant in enumerate(tenant_rows):
        members.append(Membership(user=users[2 * i], tenant=tenant, role="member"))
        members.append(Membership(user=users[2 * i + 1], tenant=tenant, role="manager"))
    Membership.objects.bulk_create(members)
    UserLanguage.objects.bulk_create(
        UserLanguage(user=u, language=rng.choice(["en", "zh-hant", "zh-hans"])) for u in users
    )

    now = timezone.now().replace(second=0, microsecond=0)
    per_resource = -(-due // resources)
    rows = []
    for r_index, resource in enumerate(instruments):
        for k in range(per_resource):
            if len(rows) >= due:
                break
            t = (r_index * per_resource + k) % tenants
            # One hour each, back to back, all started over 15 minutes ago.
            start = now - dt.timedelta(hours=k + 1)
            rows.append(
                Booking(
                    tenant=tenant_rows[t],
                    user=users[2 * t],
                    resource=resource,
                    title=f"bench {r_index}-{k}",
                    start=start,
                    end=start + dt.timedelta(hours=1),
                    status=BookingStatus.CONFIRMED,
                    exclusive=True,
                )
            )
    # As many bookings still to come: the sweep must leave them alone.
    for i in range(due):
        resource = instruments[i % resources]
        start = now + dt.timedelta(hours=1 + i // resources)
        t = i % tenants
        rows.append(
            Booking(
                tenant=tenant_rows[t],
                user=users[2 * t],
                resource=resource,
                title=f"future {i}",
                start=start,
                end=start + dt.timedelta(hours=1),
                status=BookingStatus.CONFIRMED,
                exclusive=True,
            )
        )
    Booking.objects.bulk_create(rows, batch_size=2000)
    return {"due": due, "now": now}


def measure(park: dict) -> dict:
    from django.core import mail
    from django.db import connection, reset_queries

    from booking.bookings.models import Booking, BookingStatus
    from booking.usage import followup, services

    result = {}
    t0, c0 = time.perf_counter(), time.process_time()
    statements = []

    def count(execute, sql, params, many, context):
        statements.append(1)
        return execute(sql, params, many, context)

    with connection.execute_wrapper(count):
        sweep = services.usage_close_due(now=park["now"] + dt.timedelta(seconds=1))
    result["sweep_wall"] = time.perf_counter() - t0
    result["sweep_cpu"] = time.process_time() - c0
    result["sweep_queries"] = len(statements)
    result["released"] = len(sweep.no_shows)
    result["left_alone"] = Booking.objects.filter(status=BookingStatus.CONFIRMED).count()

    mail.outbox = []
    reset_queries()
    t0, c0 = time.perf_counter(), time.process_time()
    sample = sweep.no_shows[:MAIL_SAMPLE]
    result["mail_bookings"] = len(sample)
    result["mails"] = followup.usage_notify_no_shows(booking_ids=sample)
    result["mail_wall"] = time.perf_counter() - t0
    result["mail_cpu"] = time.process_time() - c0
    t0 = time.perf_counter()
    followup.usage_offer_freed_time(booking_ids=sweep.freed())
    result["offer_wall"] = time.perf_counter() - t0
    # The minute task then folds the sweep's journal into the daily usage tables.
    from booking.usage.daily import usage_fold
    from booking.usage.models import UsageChange

    result["journal"] = UsageChange.objects.count()
    t0, c0 = time.perf_counter(), time.process_time()
    while usage_fold() > 0:
        pass
    result["fold_wall"] = time.perf_counter() - t0
    result["fold_cpu"] = time.process_time() - c0
    return result


def report(result: dict, *, vendor: str, due: int) -> str:
    per = result["sweep_queries"] / max(1, result["released"])
    load = os.getloadavg()
    return "\n".join(
        [
            f"database: {vendor}; due bookings: {due}; load average {load[0]:.2f} {load[1]:.2f}",
            f"sweep (the periodic task): released {result['released']} no-shows in "
            f"{result['sweep_wall']:.2f} s wall, {result['sweep_cpu']:.2f} s CPU "
            f"({result['released'] / result['sweep_wall']:.0f} bookings/s, "
            f"{result['sweep_queries']} SQL statements in all, {per:.3f} per booking); "
            f"left alone {result['left_alone']} not yet due",
            f"follow-up in the worker: {result['mails']} e-mails for {result['mail_bookings']} "
            f"no-shows in {result['mail_wall']:.2f} s wall ({result['mail_cpu']:.2f} s CPU, "
            f"{1000 * result['mail_cpu'] / max(1, result['mails']):.1f} ms CPU per e-mail); "
            f"waitlist offer {result['offer_wall']:.2f} s (instant bookings: no round to re-plan)",
            f"daily usage tables: the fold task folded the sweep's {result['journal']} journal "
            f"rows in {result['fold_wall']:.2f} s wall, {result['fold_cpu']:.2f} s CPU",
            f"target: sweep < 5 s — {'met' if result['sweep_wall'] < 5 else 'NOT met'}",
        ]
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--smoke", action="store_true", help="300 due bookings")
    parser.add_argument("--due", type=int, default=10_000)
    args = parser.parse_args(argv)
    if args.smoke:
        args.due = 300

    import django

    django.setup()
    from django.db import connection
    from django.test.utils import setup_test_environment, teardown_test_environment

    setup_test_environment()
    connection.settings_dict.setdefault("TEST", {})["NAME"] = (
        f"{connection.settings_dict['NAME']}_bench_no_show"
        if connection.vendor == "postgresql"
        else "park_bench_no_show"
    )
    old_name = connection.creation.create_test_db(verbosity=0, autoclobber=True, keepdb=False)
    try:
        t0 = time.perf_counter()
        park = build(due=args.due)
        from booking.usage.daily import usage_rebuild

        usage_rebuild()  # the daily tables of the bulk-loaded park, as the rebuild command does
        print(f"built {2 * args.due} bookings in {time.perf_counter() - t0:.1f} s")
        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                cursor.execute("ANALYZE")
        result = measure(park)
        print(report(result, vendor=connection.vendor, due=args.due))
    finally:
        connection.creation.destroy_test_db(old_name, verbosity=0)
        teardown_test_environment()
    return 0 if result["released"] == args.due else 1


if __name__ == "__main__":
    raise SystemExit(main())
