"""Cancelling a granted round booking while 200 requests wait: the answer, and the re-plan apart.

    uv run python benchmarks/bench_cancel.py                 # 200 waitlisted, 100 cancels
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/park uv run python benchmarks/bench_cancel.py
    uv run python benchmarks/bench_cancel.py --smoke         # a few seconds

Builds, in a throw-away test database, a published allocation round over a week of 20
round-booked instruments, fully booked by granted requests, with ``--waitlist`` requests on its
waitlist. Then, with the real queue (huey not immediate; its own SQLite file), it posts the
member's cancel form (``/bookings/<id>/cancel``, the full middleware stack) for ``--runs``
granted bookings and times each answer: the cancel commits and queues the waitlist re-plan.
The re-plan itself (``waitlist_replan``, the worker's part: the planner over the waitlist) is
timed separately, as the request used to pay for it.

Printed: p50/p95/p99 of the cancel answer in ms, its SQL query count, the re-plan's time in ms
(the first re-plans the whole waitlist over all the freed time; before this change a cancel's
request paid a re-plan on top of its own work) and the load average (a busy machine skews wall
times). Target: cancel p99 < 100 ms.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings_test")


def _percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    k = max(0, min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1))))
    return ordered[k]


def build_round(*, waitlist: int, resources: int = 20) -> dict:
    """A published round whose resources are fully booked, with ``waitlist`` waiting requests."""
    from django.contrib.auth import get_user_model
    from django.utils import timezone

    from booking.bookings.models import Booking, BookingStatus
    from booking.rounds.models import AllocationRound
    from booking.tenancy.models import Membership, Tenant
    from resources.models import Location, Resource, ResourceKind

    User = get_user_model()
    tz = timezone.get_current_timezone()
    start = dt.datetime.combine(timezone.localdate() + dt.timedelta(days=3), dt.time.min, tz)
    end = start + dt.timedelta(days=7)
    site = Location.objects.create(name="Bench park", level="park", park="hk")
    items = [
        Resource(
            name=f"Instrument {i:02d}",
            slug=f"bench-{i:02d}",
            kind=ResourceKind.LAB_INSTRUMENT,
            location=site,
            booking_mode="round",
            min_length_minutes=60,
            max_length_minutes=8 * 60,
            slot_minutes=60,
        )
        for i in range(resources)
    ]
    Resource.objects.bulk_create(items)
    items = list(Resource.objects.filter(slug__startswith="bench-").order_by("slug"))
    tenants = [
        Tenant.objects.create(
            name=f"Bench {i}",
            slug=f"bench-{i}",
            tier="startup",
            home_park="hk",
            slurm_account=f"b{i}",
        )
        for i in range(10)
    ]
    users = []
    for i in range(20):
        user = User.objects.create_user(f"bench{i}", f"bench{i}@example.org", "bench-pw")
        Membership.objects.create(user=user, tenant=tenants[i % 10])
        users.append(user)
    rnd = AllocationRound.objects.create(
        name="Bench week",
        period_start=start,
        period_end=end,
        cutoff=start - dt.timedelta(days=1),
        status=AllocationRound.Status.PUBLISHED,
        time_limit_seconds=5,
        plan={"outcomes": {}},
        figures={},
    )
    granted, waiting = [], []
    n = 0
    for resource in items:
        at = start
        while at + dt.timedelta(hours=8) <= end:
            user = users[n % len(users)]
            granted.append(
                Booking(
                    tenant_id=Membership.objects.get(user=user).tenant_id,
                    user=user,
                    resource=resource,
                    round=rnd,
                    title=f"granted {n}",
                    start=at,
                    end=at + dt.timedelta(hours=8),
                    earliest_start=at,
                    latest_end=at + dt.timedelta(hours=8),
                    duration_minutes=8 * 60,
                    status=BookingStatus.CONFIRMED,
                    reason_code="granted",
                )
            )
            at += dt.timedelta(hours=8)
            n += 1
    for i in range(waitlist):
        user = users[i % len(users)]
        waiting.append(
            Booking(
                tenant_id=tenants[i % 10].pk,
                user=user,
                resource=items[i % len(items)],
                round=rnd,
                title=f"waiting {i}",
                earliest_start=start + dt.timedelta(hours=(i * 5) % 150),
                latest_end=end,
                duration_minutes=4 * 60,
                status=BookingStatus.WAITLISTED,
                reason_code="capacity_full",
            )
        )
    Booking.objects.bulk_create(granted + waiting)
    owners = {u.pk: u for u in users}
    confirmed = list(
        Booking.objects.filter(round=rnd, status=BookingStatus.CONFIRMED).order_by("start", "pk")
    )
    return {"round": rnd, "granted": confirmed, "owners": owners, "waitlist": waitlist}


def measure(setup: dict, *, runs: int, replans: int) -> dict:
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext
    from huey.contrib.djhuey import HUEY

    from booking.bookings.models import Booking, BookingStatus
    from booking.rounds.waitlist import waitlist_replan

    rnd = setup["round"]
    client = Client()
    cancel_ms, cpu_ms, queries, failed = [], [], set(), 0
    # Latest first: the re-plan below still has whole free blocks to hand out.
    targets = setup["granted"][::-1][: runs + 1]
    # The first request loads the URLs, templates and the queue: warm up with it, unmeasured.
    warm = targets.pop(0)
    client.force_login(setup["owners"][warm.user_id])
    client.post(f"/bookings/{warm.pk}/cancel")
    for booking in targets:
        client.force_login(setup["owners"][booking.user_id])
        with CaptureQueriesContext(connection) as captured:
            t0, c0 = time.perf_counter(), time.process_time()
            response = client.post(f"/bookings/{booking.pk}/cancel")
            cancel_ms.append((time.perf_counter() - t0) * 1000)
            cpu_ms.append((time.process_time() - c0) * 1000)
        queries.add(len(captured))
        booking.refresh_from_db()
        failed += response.status_code != 302 or booking.status != BookingStatus.CANCELLED
    queued = HUEY.pending_count()
    HUEY.flush()
    replan_ms, promoted = [], 0
    for _ in range(replans):
        t0 = time.perf_counter()
        promoted += len(waitlist_replan(round_id=rnd.pk))
        replan_ms.append((time.perf_counter() - t0) * 1000)
    waiting = Booking.objects.filter(round=rnd, status=BookingStatus.WAITLISTED).count()
    return {
        "cancel": cancel_ms,
        "cpu": cpu_ms,
        "queries": sorted(queries),
        "failed": failed,
        "queued": queued,
        "replan": replan_ms,
        "promoted": promoted,
        "waiting_after": waiting,
    }


def report(result: dict, *, vendor: str, waitlist: int) -> str:
    c, r = result["cancel"], result["replan"]
    lines = [
        f"database: {vendor}; waitlist: {waitlist} requests; load average: "
        + " ".join(f"{x:.2f}" for x in os.getloadavg()),
        f"cancel answer ({len(c)} runs): p50 {_percentile(c, 50):.1f} ms, "
        f"p95 {_percentile(c, 95):.1f} ms, p99 {_percentile(c, 99):.1f} ms, "
        f"max {max(c):.1f} ms; SQL queries {result['queries']}; "
        f"re-plans queued {result['queued']}; failed {result['failed']}",
        f"cancel answer, CPU time of this process: p50 {_percentile(result['cpu'], 50):.1f} ms, "
        f"p99 {_percentile(result['cpu'], 99):.1f} ms (less sensitive to other work)",
    ]
    if r:
        lines.append(
            f"waitlist re-plan in the worker ({len(r)} runs): median {statistics.median(r):.0f} ms, "
            f"min {min(r):.0f} ms, max {max(r):.0f} ms; promoted {result['promoted']}, "
            f"{result['waiting_after']} still waiting"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--smoke", action="store_true", help="small round, few runs")
    parser.add_argument("--runs", type=int, default=100)
    parser.add_argument("--waitlist", type=int, default=200)
    parser.add_argument("--replans", type=int, default=1)
    args = parser.parse_args(argv)
    if args.smoke:
        args.runs, args.waitlist, args.replans = 10, 20, 1
    # The real queue, in a file of its own: the cancel only enqueues.
    os.environ["HUEY_IMMEDIATE"] = "0"
    os.environ.pop("REDIS_URL", None)
    queue_dir = tempfile.mkdtemp(prefix="bench-cancel-")
    os.environ["HUEY_SQLITE_FILE"] = str(Path(queue_dir) / "huey.sqlite3")
    os.environ["HUEY_NAME"] = "bench-cancel"

    import django

    django.setup()
    from django.db import connection
    from django.test.utils import setup_test_environment, teardown_test_environment

    setup_test_environment()
    connection.settings_dict.setdefault("TEST", {})["NAME"] = "park_bench_cancel"
    old_name = connection.creation.create_test_db(verbosity=0, autoclobber=True, keepdb=False)
    try:
        setup = build_round(waitlist=args.waitlist)
        result = measure(setup, runs=args.runs, replans=args.replans)
        print(report(result, vendor=connection.vendor, waitlist=args.waitlist))
    finally:
        connection.creation.destroy_test_db(old_name, verbosity=0)
        teardown_test_environment()
    return 0 if result["failed"] == 0 else 1


if __name__ == "__main__":
    raise SystemExit(main())
