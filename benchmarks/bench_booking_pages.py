"""Server-side rendering time of the member's two hot pages on a park at full scale.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/park uv run python benchmarks/bench_booking_pages.py
    uv run python benchmarks/bench_booking_pages.py --smoke          # tiny park, a few seconds
    ... --runs 500 --bookings 50000 --resources 200 --tenants 100

Builds, in a throw-away test database, a park of 200 resources (GPU nodes, pilot lines, lab
instruments with opening hours), 100 tenants with members and quotas, and 50,000 confirmed
bookings spread over a year (bulk_create), then renders in-process with Django's test Client
(the full middleware stack, session and auth included):

- the week calendar of a resource (a random resource and week each run), and
- a booking submission (a fresh free slot each run; every booking rule and both row locks run).

Printed: median, p90 and p99 wall time in milliseconds, the Django process's CPU time (less
sensitive to other work on the machine), the SQL query count per page (it depends on the
resource's kind, never on the data) and the load average, since a busy machine skews wall times. Targets on this machine: median < 50 ms, p99 < 150 ms.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import random
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings_test")

PASSWORD = "bench-pw"  # noqa: S105 - a throw-away database


def build_park(*, resources: int, tenants: int, bookings: int, seed: int = 11) -> dict:
    """Fill the database; returns what the measurements need."""
    from django.contrib.auth import get_user_model
    from django.contrib.auth.hashers import make_password
    from django.utils import timezone

    from booking.bookings.models import Booking, BookingStatus
    from booking.tenancy.models import Membership, Quota, Tenant
    from resources.models import (
        GpuNode,
        LabInstrument,
        Location,
        Resource,
        ResourceKind,
        Training,
        TrainingRecord,
        WeeklyHours,
    )

    rng = random.Random(seed)
    tz = timezone.get_current_timezone()
    today = timezone.localdate()
    User = get_user_model()

    site = Location.objects.create(name="Bench park", level="park", park="hk")
    room = Location.objects.create(name="Bench lab", level="room", parent=site, park="hk")
    training = Training.objects.create(code="bench-safety", name="Bench safety")

    n_gpu = max(1, resources * 2 // 5)
    n_line = max(1, resources // 10)
    n_instr = max(1, resources - n_gpu - n_line)
    rows = []
    for i in range(n_gpu):
        rows.append(
            Resource(
                name=f"GPU node {i:03d}",
                slug=f"bench-gpu-{i:03d}",
                kind=ResourceKind.GPU_NODE,
                location=room,
                capacity=rng.choice([4, 8]),
                min_length_minutes=60,
                max_length_minutes=24 * 60,
                slot_minutes=60,
                horizon_days=400,
            )
        )
    for i in range(n_line):
        rows.append(
            Resource(
                name=f"Line {i:03d}",
                slug=f"bench-line-{i:03d}",
                kind=ResourceKind.PILOT_LINE,
                location=room,
                booking_mode="round",
                min_length_minutes=240,
                max_length_minutes=48 * 60,
                slot_minutes=60,
                horizon_days=400,
            )
        )
    for i in range(n_instr):
        rows.append(
            Resource(
                name=f"Instrument {i:03d}",
                slug=f"bench-instr-{i:03d}",
                kind=ResourceKind.LAB_INSTRUMENT,
                location=room,
                min_length_minutes=30,
                max_length_minutes=8 * 60,
                slot_minutes=30,
                horizon_days=400,
                required_training=training if i % 3 == 0 else None,
            )
        )
    Resource.objects.bulk_create(rows)
    all_resources = list(Resource.objects.filter(slug__startswith="bench-").order_by("slug"))
    GpuNode.objects.bulk_create(
        GpuNode(
            resource=r,
            gpu_model=rng.choice(["A100", "H100", "L40S"]),
            gpu_count=r.capacity,
            gpu_memory_gb=80,
            cpus=64,
            memory_gb=512,
            slurm_cluster="bench",
            slurm_partition="gpu",
            slurm_node=r.slug,
        )
        for r in all_resources
        if r.kind == ResourceKind.GPU_NODE
    )
    LabInstrument.objects.bulk_create(
        LabInstrument(resource=r, instrument_type="instrument")
        for r in all_resources
        if r.kind == ResourceKind.LAB_INSTRUMENT
    )
    WeeklyHours.objects.bulk_create(
        WeeklyHours(
            resource=r,
            purpose="shift" if r.kind == ResourceKind.PILOT_LINE else "opening",
            weekday=d,
            opens=dt.time(7, 0),
            closes=dt.time(22, 0),
        )
        for r in all_resources
        if r.kind != ResourceKind.GPU_NODE
        for d in range(7)
    )

    Tenant.objects.bulk_create(
        Tenant(
            name=f"Tenant {i:03d}",
            slug=f"t{i:03d}",
            tier="startup",
            home_park="hk",
            weight=1 + i % 3,
            slurm_account=f"t{i:03d}",
        )
        for i in range(tenants)
    )
    all_tenants = list(Tenant.objects.order_by("slug"))
    password = make_password(PASSWORD)
    User.objects.bulk_create(
        User(username=f"u{i:03d}-{j}", email=f"u{i:03d}-{j}@bench.example", password=password)
        for i in range(tenants)
        for j in range(3)
    )
    users = {u.username: u for u in User.objects.filter(username__startswith="u")}
    Membership.objects.bulk_create(
        Membership(user=users[f"u{i:03d}-{j}"], tenant=t, role="manager" if j == 0 else "member")
        for i, t in enumerate(all_tenants)
        for j in range(3)
    )
    Quota.objects.bulk_create(
        Quota(tenant=t, resource_class=kind, period="month", hours=1_000_000)
        for t in all_tenants
        for kind in ResourceKind.values
    )
    TrainingRecord.objects.bulk_create(
        TrainingRecord(
            user=u,
            training=training,
            granted_on=today - dt.timedelta(days=30),
            expires_on=today + dt.timedelta(days=400),
        )
        for u in users.values()
    )

    # Bookings: per resource a sequence of non-overlapping bookings over [-182, +182] days,
    # inside opening hours where the resource has them. Booked intervals are kept so the
    # submission benchmark can pick free slots.
    start_day = today - dt.timedelta(days=182)
    per_resource = bookings // len(all_resources)
    extra = bookings - per_resource * len(all_resources)
    booked: dict[int, list[tuple[dt.datetime, dt.datetime]]] = {}
    batch = []
    user_list = list(users.values())
    tenant_of = {m.user_id: m.tenant_id for m in Membership.objects.all()}
    for index, r in enumerate(all_resources):
        count = per_resource + (1 if index < extra else 0)
        spacing = 365 * 24 / max(count, 1)
        intervals = []
        for k in range(count):
            hours_in = k * spacing
            day = start_day + dt.timedelta(days=int(hours_in // 24))
            hour = 8 + int(hours_in % 24) % 12  # 08:00–19:00 starts, inside opening hours
            start = dt.datetime.combine(day, dt.time(hour), tzinfo=tz)
            length = rng.choice([1, 2, 3])
            end = start + dt.timedelta(hours=length)
            if intervals and start < intervals[-1][1]:
                continue
            user = rng.choice(user_list)
            intervals.append((start, end))
            batch.append(
                Booking(
                    tenant_id=tenant_of[user.pk],
                    user=user,
                    resource=r,
                    title=f"Run {k}",
                    units=1 if r.capacity == 1 else rng.randint(1, r.capacity),
                    start=start,
                    end=end,
                    status=BookingStatus.CONFIRMED,
                    exclusive=r.capacity == 1,
                )
            )
        booked[r.pk] = intervals
    Booking.objects.bulk_create(batch, batch_size=5000)
    return {
        "resources": all_resources,
        "booked": booked,
        "member": users["u000-1"],
        "tenant": all_tenants[0],
        "bookings": len(batch),
        "rng": rng,
    }


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))
    return ordered[index]


def _free_slots(park: dict, count: int):
    """Fresh 1-hour slots on instant-booked resources, in the future, that nothing holds."""
    from django.utils import timezone

    tz = timezone.get_current_timezone()
    today = timezone.localdate()
    rng = park["rng"]
    instant = [r for r in park["resources"] if r.booking_mode == "instant"]
    taken = {r.pk: list(park["booked"].get(r.pk, [])) for r in instant}
    slots = []
    attempts = 0
    while len(slots) < count and attempts < count * 200:
        attempts += 1
        r = rng.choice(instant)
        day = today + dt.timedelta(days=rng.randint(2, 170))
        start = dt.datetime.combine(day, dt.time(rng.randint(8, 20)), tzinfo=tz)
        end = start + dt.timedelta(hours=1)
        if any(a < end and b > start for a, b in taken[r.pk]):
            continue
        taken[r.pk].append((start, end))
        slots.append((r, start, end))
    return slots


def measure(park: dict, *, runs: int) -> dict:
    """Render both pages ``runs`` times; returns timings (ms) and query counts."""
    from django.core import mail
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext
    from django.utils import timezone

    client = Client()
    client.force_login(park["member"])
    rng = park["rng"]
    today = timezone.localdate()

    def week_request():
        r = rng.choice(park["resources"])
        week = today + dt.timedelta(days=rng.randint(-180, 180))
        return client.get(f"/resources/{r.slug}/", {"week": week.isoformat()})

    week_times, week_cpu, week_queries = [], [], set()
    for i in range(runs + 5):
        with CaptureQueriesContext(connection) as queries:
            t0, c0 = time.perf_counter(), time.process_time()
            response = week_request()
            elapsed = (time.perf_counter() - t0) * 1000
            cpu = (time.process_time() - c0) * 1000
        assert response.status_code == 200, response.status_code
        if i >= 5:  # the first few warm caches (templates, translations)
            week_times.append(elapsed)
            week_cpu.append(cpu)
            week_queries.add(len(queries))

    submit_times, submit_cpu, submit_queries, refused = [], [], set(), 0
    for i, (r, start, end) in enumerate(_free_slots(park, runs + 5)):
        data = {
            "tenant": park["tenant"].pk,
            "title": f"bench {i}",
            "start": timezone.localtime(start).strftime("%Y-%m-%dT%H:%M"),
            "end": timezone.localtime(end).strftime("%Y-%m-%dT%H:%M"),
            "units": 1,
        }
        with CaptureQueriesContext(connection) as queries:
            t0, c0 = time.perf_counter(), time.process_time()
            response = client.post(f"/resources/{r.slug}/book", data)
            elapsed = (time.perf_counter() - t0) * 1000
            cpu = (time.process_time() - c0) * 1000
        if response.status_code != 302:
            refused += 1
            continue
        if i >= 5:
            submit_times.append(elapsed)
            submit_cpu.append(cpu)
            submit_queries.add(len(queries))
        mail.outbox.clear()
    return {
        "week": week_times,
        "week_cpu": week_cpu,
        "week_queries": sorted(week_queries),
        "submit": submit_times,
        "submit_cpu": submit_cpu,
        "submit_queries": sorted(submit_queries),
        "refused": refused,
    }


def report(result: dict, *, vendor: str, park: dict) -> str:
    lines = [
        f"database: {vendor}; resources: {len(park['resources'])}; bookings: {park['bookings']}",
    ]
    for name, key in (("week calendar", "week"), ("booking submission", "submit")):
        values = result[key]
        if not values:
            lines.append(f"{name:20s} no successful runs")
            continue
        lines.append(
            f"{name:20s} runs={len(values):4d}  median={statistics.median(values):7.2f} ms  "
            f"p90={_percentile(values, 0.90):7.2f} ms  p99={_percentile(values, 0.99):7.2f} ms  "
            f"queries/page={result[key + '_queries']}  "
            f"(Django process CPU median {statistics.median(result[key + '_cpu']):.2f} ms)"
        )
    lines.append(f"submissions refused (should be 0): {result['refused']}")
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    lines.append(f"load average (1 min) at the end: {load:.2f} on {os.cpu_count()} CPUs")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--smoke", action="store_true", help="tiny park, few runs")
    parser.add_argument("--runs", type=int, default=200)
    parser.add_argument("--resources", type=int, default=200)
    parser.add_argument("--tenants", type=int, default=100)
    parser.add_argument("--bookings", type=int, default=50_000)
    args = parser.parse_args(argv)
    if args.smoke:
        args.runs, args.resources, args.tenants, args.bookings = 20, 10, 5, 500

    import django

    django.setup()
    from django.db import connection
    from django.test.utils import setup_test_environment, teardown_test_environment

    setup_test_environment()
    # A database of its own, so a benchmark never clobbers a test run's test database.
    connection.settings_dict.setdefault("TEST", {})["NAME"] = "park_bench_pages"
    old_name = connection.creation.create_test_db(verbosity=0, autoclobber=True, keepdb=False)
    try:
        t0 = time.perf_counter()
        park = build_park(resources=args.resources, tenants=args.tenants, bookings=args.bookings)
        print(f"built the park in {time.perf_counter() - t0:.1f} s")
        with connection.cursor() as cursor:
            if connection.vendor == "postgresql":
                cursor.execute("ANALYZE")
        result = measure(park, runs=args.runs)
        print(report(result, vendor=connection.vendor, park=park))
    finally:
        connection.creation.destroy_test_db(old_name, verbosity=0)
        teardown_test_environment()
    return 0 if result["refused"] == 0 else 1


if __name__ == "__main__":
    raise SystemExit(main())
