"""A reminder tick over 10,000 users and 50,000 bookings.

    uv run python benchmarks/bench_reminders.py                 # SQLite, 10,000 users
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/park_w3 uv run python benchmarks/bench_reminders.py
    uv run python benchmarks/bench_reminders.py --smoke         # 300 users, a few seconds

Builds, in a throw-away test database, 100 lab instruments, ``--users`` users in tenants of 50
(one manager each, a weekly instrument quota each, a third of the tenants past 75% of it),
``--bookings`` confirmed bookings over the next 14 days, a training record per user (some
expiring within 30 days), an open round whose cut-off is 12 hours away, and preferences for a
third of the users (a digest, other lead times, some opt-outs). Then it runs:

- the first tick of every kind (what the two periodic tasks do): finding the due notices and
  sending them (Django's in-memory mail backend) — the round alone gives most users a notice;
- a second tick at the same moment, which must find and send nothing;
- a minute later, the minute task's tick (booking starts and round cut-offs).

Printed: wall and CPU seconds of each part, notices found, e-mails sent, SQL statements (the
finders work on windows, not a query per user), the load average (the machine is shared).
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

TENANT_SIZE = 50


def build(*, users: int, bookings: int, resources: int = 100, seed: int = 15) -> dict:
    from django.contrib.auth import get_user_model
    from django.utils import timezone

    from benchmarks.instruments import bench_instruments
    from booking.bookings.models import Booking, BookingStatus
    from booking.notices.models import Delivery, NoticePreference
    from booking.rounds.models import AllocationRound
    from booking.tenancy.models import Membership, Quota, Tenant, UserLanguage
    from resources.models import ResourceKind, Training, TrainingRecord

    rng = random.Random(seed)
    User = get_user_model()
    now = timezone.now().replace(second=0, microsecond=0)
    instruments = bench_instruments(resources)
    User.objects.bulk_create(
        (User(username=f"r{i:05d}", email=f"r{i:05d}@bench.example") for i in range(users)),
        batch_size=2000,
    )
    people = list(User.objects.filter(username__startswith="r").order_by("pk"))
    tenant_count = max(1, users // TENANT_SIZE)
    Tenant.objects.bulk_create(
        Tenant(
            name=f"Tenant {i:04d}",
            slug=f"rt{i:04d}",
            tier="startup",
            home_park="hk",
            slurm_account=f"rt{i:04d}",
        )
        for i in range(tenant_count)
    )
    tenants = list(Tenant.objects.filter(slug__startswith="rt").order_by("pk"))
    Membership.objects.bulk_create(
        (
            Membership(
                user=u,
                tenant=tenants[i % tenant_count],
                role="manager" if i < tenant_count else "member",
            )
            for i, u in enumerate(people)
        ),
        batch_size=2000,
    )
    UserLanguage.objects.bulk_create(
        (UserLanguage(user=u, language=rng.choice(["en", "zh-hant", "zh-hans"])) for u in people),
        batch_size=2000,
    )
    prefs = []
    for u in people[::3]:
        prefs.append(
            NoticePreference(
                user=u,
                lead_minutes=rng.choice([15, 30, 120, 240]),
                booking_start=rng.random() > 0.1,
                round_cutoff=rng.random() > 0.1,
                delivery=Delivery.DIGEST if rng.random() < 0.5 else Delivery.IMMEDIATE,
                digest_hour=timezone.localtime(now).hour,
            )
        )
    NoticePreference.objects.bulk_create(prefs, batch_size=2000)
    training = Training.objects.create(code="bench", name="Bench training")
    today = timezone.localdate(now)
    TrainingRecord.objects.bulk_create(
        (
            TrainingRecord(
                user=u,
                training=training,
                granted_on=today - dt.timedelta(days=300),
                expires_on=today + dt.timedelta(days=rng.randint(1, 365)),
            )
            for u in people
        ),
        batch_size=2000,
    )
    # Back-to-back half-hour bookings from now on, one resource after another; each tenant
    # books for its own members.
    per_resource = -(-bookings // resources)
    rows = []
    for r_index, resource in enumerate(instruments):
        for k in range(per_resource):
            if len(rows) >= bookings:
                break
            start = now + dt.timedelta(minutes=10 + 30 * k)
            user_index = rng.randrange(len(people))
            rows.append(
                Booking(
                    tenant=tenants[user_index % tenant_count],
                    user=people[user_index],
                    resource=resource,
                    title=f"bench {r_index}-{k}",
                    start=start,
                    end=start + dt.timedelta(minutes=30),
                    status=BookingStatus.CONFIRMED,
                    exclusive=True,
                )
            )
    Booking.objects.bulk_create(rows, batch_size=2000)
    # Weekly quotas: a third of the tenants past 75% of it (the booked hours this week).
    Quota.objects.bulk_create(
        Quota(
            tenant=t,
            resource_class=ResourceKind.LAB_INSTRUMENT,
            period="week",
            hours=10 if i % 3 == 0 else 100_000,
        )
        for i, t in enumerate(tenants)
    )
    AllocationRound.objects.create(
        name="Bench round",
        period_start=now + dt.timedelta(days=2),
        period_end=now + dt.timedelta(days=9),
        cutoff=now + dt.timedelta(hours=12),
    )
    return {"now": now, "users": users, "bookings": len(rows)}


def _run(fn):
    from django.db import connection

    statements = []

    def count(execute, sql, params, many, context):
        statements.append(1)
        return execute(sql, params, many, context)

    t0, c0 = time.perf_counter(), time.process_time()
    with connection.execute_wrapper(count):
        result = fn()
    return result, time.perf_counter() - t0, time.process_time() - c0, len(statements)


def measure(park: dict) -> dict:
    from django.core import mail

    from booking.notices.due import FINDERS, notices_find_due
    from booking.notices.models import Notice
    from booking.notices.sending import notices_send_digests, notices_send_due
    from booking.notices.tasks import MINUTE_KINDS, notices_tick

    now = park["now"]
    mail.outbox = []
    result = {}
    found, result["find_wall"], result["find_cpu"], result["find_sql"] = _run(
        lambda: notices_find_due(now=now, kinds=tuple(FINDERS))
    )
    result["found"] = found
    result["notices"] = Notice.objects.count()
    sent, result["send_wall"], result["send_cpu"], result["send_sql"] = _run(
        lambda: notices_send_due(now=now) + notices_send_digests(now=now)
    )
    result["mails"] = len(mail.outbox)
    second, result["again_wall"], _cpu, result["again_sql"] = _run(
        lambda: notices_tick(now=now, kinds=tuple(FINDERS))
    )
    result["again_mails"] = second["sent"] + second["digests"]
    result["again_notices"] = Notice.objects.count() - result["notices"]
    minute, result["minute_wall"], result["minute_cpu"], result["minute_sql"] = _run(
        lambda: notices_tick(now=now + dt.timedelta(minutes=1), kinds=MINUTE_KINDS)
    )
    result["minute_mails"] = minute["sent"] + minute["digests"]
    return result


def report(result: dict, *, vendor: str, users: int, bookings: int) -> str:
    load = os.getloadavg()
    found = ", ".join(f"{k} {v}" for k, v in result["found"].items())
    return "\n".join(
        [
            f"database: {vendor}; users: {users}; bookings: {bookings}; "
            f"load average {load[0]:.2f} {load[1]:.2f}",
            f"find (every kind): {result['notices']} notices stored ({found} offered) in "
            f"{result['find_wall']:.2f} s wall, {result['find_cpu']:.2f} s CPU, "
            f"{result['find_sql']} SQL statements",
            f"send: {result['mails']} e-mails (one by one and digests) in "
            f"{result['send_wall']:.2f} s wall, {result['send_cpu']:.2f} s CPU "
            f"({1000 * result['send_cpu'] / max(1, result['mails']):.2f} ms CPU per e-mail), "
            f"{result['send_sql']} SQL statements",
            f"second tick at the same moment: {result['again_notices']} new notices, "
            f"{result['again_mails']} e-mails, {result['again_wall']:.2f} s wall, "
            f"{result['again_sql']} SQL statements",
            f"minute tick a minute later (booking starts, round cut-offs, sending): "
            f"{result['minute_mails']} e-mails, {result['minute_wall']:.2f} s wall, "
            f"{result['minute_cpu']:.2f} s CPU, {result['minute_sql']} SQL statements",
        ]
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--smoke", action="store_true", help="300 users, 1,500 bookings")
    parser.add_argument("--users", type=int, default=10_000)
    parser.add_argument("--bookings", type=int, default=50_000)
    args = parser.parse_args(argv)
    if args.smoke:
        args.users, args.bookings = 300, 1500

    import django

    django.setup()
    from django.db import connection
    from django.test.utils import setup_test_environment, teardown_test_environment

    setup_test_environment()
    connection.settings_dict.setdefault("TEST", {})["NAME"] = (
        f"{connection.settings_dict['NAME']}_bench_reminders"
        if connection.vendor == "postgresql"
        else "park_bench_reminders"
    )
    old_name = connection.creation.create_test_db(verbosity=0, autoclobber=True, keepdb=False)
    try:
        t0 = time.perf_counter()
        park = build(users=args.users, bookings=args.bookings)
        print(
            f"built {args.users} users, {park['bookings']} bookings in {time.perf_counter() - t0:.1f} s"
        )
        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                cursor.execute("ANALYZE")
        result = measure(park)
        print(report(result, vendor=connection.vendor, users=args.users, bookings=park["bookings"]))
    finally:
        connection.creation.destroy_test_db(old_name, verbosity=0)
        teardown_test_environment()
    return 0 if result["again_mails"] == 0 and result["again_notices"] == 0 else 1


if __name__ == "__main__":
    raise SystemExit(main())
