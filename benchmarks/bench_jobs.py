"""Compute jobs end to end on the dev cluster: API → database → Slurm, and Slurm's end → our database.

    scripts/slurm-dev-cluster up
    uv run python benchmarks/bench_jobs.py                 # 500 jobs, 4 workers, SQLite file
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/park uv run python benchmarks/bench_jobs.py
    ... --count 500 --workers 4 --follow-interval 2 --via api|service

In a throw-away database (one tenant, one researcher mapped to a dev-cluster user, a large GPU
quota, an API token) it measures:

1. The ceiling: raw submissions to slurmrestd (plain httpx, one keep-alive connection, and
   ``--workers`` concurrent connections): held jobs, cancelled afterwards (Slurm's submit path
   alone), and the same jobs as ours that run (slurmctld schedules and launches them meanwhile,
   on the same two cores) - the like-for-like ceiling.
2. Submissions end to end: ``count`` POST /api/v1/jobs requests from ``--clients`` concurrent
   client processes (default 4) to gunicorn (deploy/gunicorn.conf.py with ``--server-workers``
   sync workers, DEBUG=0, as in production, every worker warm; auth, validation, quota check,
   insert), each enqueuing ``job_submit_task`` on commit for a real huey consumer
   (``manage.py run_huey`` with ``--workers`` worker processes, Redis when REDIS_URL is set,
   else huey's SQLite storage) that submits it and records the Slurm id. The rate is
   count / (first request → last job recorded with its Slurm id), compared with the ceiling.
3. Follow-up: the jobs (1 GPU, ``true``) run; from the first request on, a follower thread
   calls ``jobs_follow`` every ``--follow-interval`` seconds as the periodic task does. The delay
   per job is the time our row got its final state minus Slurm's end time (Slurm reports whole
   seconds, so figures can be up to 1 s high).
4. A backlog: ``count`` jobs stored while the consumer is stopped (as after an outage), then
   drained by the consumer: the rate of our submission path alone (claim, exactly-once rules,
   submission, recording the id) against the ceilings; then again with the partition down, so
   that no job starts while they are sent (as none of the held ceiling's does).

Loopback only. Jobs left running at the end are cancelled.
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import signal
import statistics
import subprocess
import sys
import threading
import time
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlsplit

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings_test")


PAYLOAD = {
    "name": "bench",
    "script": "#!/bin/sh\ntrue\n",
    "partition": "gpu",
    "gpus": 1,
    "cpus": 1,
    "memory_mb": 64,
    "time_limit_minutes": 1,
}


def load_slurm_env() -> dict[str, str]:
    if os.environ.get("SLURM_REST_URL"):
        return {k: v for k, v in os.environ.items() if k.startswith("SLURM")}
    env_file = Path(os.environ.get("SLURM_DEV_DIR") or ROOT / "var" / "slurm") / "env"
    if not env_file.exists():
        sys.exit("no cluster: run scripts/slurm-dev-cluster up (or set SLURM_REST_URL)")
    values = {}
    for line in env_file.read_text().splitlines():
        if "=" in line:
            key, value = line.removeprefix("export ").split("=", 1)
            values[key] = value.strip('"')
    return values


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def set_partition(name: str, state: str) -> None:
    """``scontrol update PartitionName=name State=state`` on the dev cluster (SLURM_CONF)."""
    subprocess.run(
        ["scontrol", "update", f"PartitionName={name}", f"State={state}"],
        check=True,
        env={**os.environ},
    )


def post_jobs(url: str, secret: str, n: int, *, results) -> None:
    """One API client: ``n`` POST /api/v1/jobs on one kept-alive connection; puts (the request
    times, the first failure or None) on ``results``."""
    times: list[float] = []
    failure = None
    with httpx.Client(
        base_url=url, headers={"Authorization": f"Bearer {secret}"}, timeout=60
    ) as api:
        api.get("/api/v1/me")  # the client's own first-request set-up is not the server's time
        for _ in range(n):
            r0 = time.perf_counter()
            response = api.post("/api/v1/jobs", json=PAYLOAD)
            times.append(time.perf_counter() - r0)
            if response.status_code != 201:
                failure = f"{response.status_code}: {response.text[:300]}"
                break
    results.put((times, failure))


def raw_ceiling(
    client, *, count: int, clients: int, workdir: str, hold: bool = True
) -> tuple[float, float]:
    """Jobs/s of plain submissions: one connection, then ``clients`` concurrent ones.

    ``hold``: the jobs are held and cancelled afterwards (Slurm's submit path alone); without
    it they run like ours do (slurmctld also schedules and launches them meanwhile, on the same
    cores), and the call waits until they have all ended."""
    from resources.slurm import JobSpec

    name = "bench-ceiling" if hold else "bench-ceiling-run"
    spec = JobSpec(
        script="#!/bin/sh\ntrue\n",
        name=name,
        working_directory=workdir,
        time_limit_minutes=1,
        memory_mb=64,
        partition="gpu",
        gpus=1,
        hold=hold,
        standard_output="/dev/null",
    )
    body = client.mapping.encode_job(spec, now=datetime.now(UTC))
    headers = {
        "X-SLURM-USER-NAME": client.config.user,
        "X-SLURM-USER-TOKEN": client.tokens.token_for(),
    }
    path = client.mapping.path("submit")
    ids: list[int] = []
    lock = threading.Lock()

    def run(n: int) -> None:
        with httpx.Client(base_url=client.config.base_url, headers=headers, timeout=30) as http:
            for _ in range(n):
                response = http.post(path, json=body)
                response.raise_for_status()
                with lock:
                    ids.append(response.json()["job_id"])

    t0 = time.perf_counter()
    run(count)
    one = count / (time.perf_counter() - t0)
    threads = [
        threading.Thread(target=run, args=(count // clients + (i < count % clients),))
        for i in range(clients)
    ]
    t0 = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    many = count / (time.perf_counter() - t0)
    if hold:
        for job_id in ids:
            client.cancel(job_id)
    else:
        deadline = time.monotonic() + 600
        while time.monotonic() < deadline and any(
            not info.state.is_final for info in client.list_jobs(name_prefix=name) or []
        ):
            time.sleep(1)
    return one, many


def build(slurm_env: dict[str, str], client, *, accounting: bool):
    import datetime as dt

    from django.contrib.auth import get_user_model
    from django.utils import timezone

    from booking.tenancy.models import Membership, Period, Tenant, Tier
    from booking.tenancy.services import quota_set
    from booking.tokens.models import ApiScope
    from booking.tokens.services import api_token_create
    from resources.models import Park, ResourceKind

    cluster_user = (slurm_env.get("SLURM_DEV_EXTRA_USERS") or "parkdev1").split(",")[0]
    # The park submits under the tenant's account (its slug, resources.slurm_park.account_name).
    account = "bench"
    if accounting:
        client.ensure_account(account, users=[cluster_user])
    user = get_user_model().objects.create_user("bench", "bench@park.local", "bench-pw")
    tenant = Tenant.objects.create(
        name="Bench Labs",
        slug="bench",
        tier=Tier.STARTUP,
        home_park=Park.HONG_KONG,
        weight=1,
        slurm_account=account,
    )
    Membership.objects.create(user=user, tenant=tenant, cluster_username=cluster_user)
    quota_set(
        tenant=tenant, resource_class=ResourceKind.GPU_NODE, period=Period.WEEK, hours=100_000
    )
    _token, secret = api_token_create(
        user=user,
        tenant=tenant,
        name="bench",
        scopes=[ApiScope.JOBS, ApiScope.READ],
        expires_at=timezone.now() + dt.timedelta(days=1),
    )
    return user, tenant, secret


def wait_sent(ids: list[int], what: str, log_path: Path) -> None:
    """Until every job of ``ids`` has its Slurm id (at most 300 s)."""
    from booking.compute.models import ComputeJob

    deadline = time.monotonic() + 300
    while ComputeJob.objects.filter(pk__in=ids, slurm_job_id__isnull=True).exists():
        if time.monotonic() > deadline:
            raise SystemExit(f"{what} still unsent after 300 s; see {log_path}")
        time.sleep(0.05)


def consumer_env(connection, workers: int) -> dict[str, str]:
    """Environment for a huey consumer that works on this benchmark's test database."""
    db = connection.settings_dict
    if connection.vendor == "postgresql":
        url = (
            f"postgres://{db['USER']}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"
        )
    else:
        url = f"sqlite:///{db['NAME']}"
    return {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings",
        "DATABASE_URL": url,
        "HUEY_IMMEDIATE": "0",
        "HUEY_WORKERS": str(workers),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=500)
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--follow-interval", type=float, default=2.0)
    parser.add_argument("--via", choices=["api", "service"], default="api")
    parser.add_argument("--clients", type=int, default=4, help="concurrent API clients")
    parser.add_argument("--server-workers", type=int, default=4, help="gunicorn workers")
    parser.add_argument(
        "--partition-down",
        action="store_true",
        help="keep the partition down while the API jobs are submitted (they queue, as the held "
        "ceiling's do), then up: the submission path without the jobs' launches on the same cores",
    )
    args = parser.parse_args(argv)
    count = min(args.count, 2000)

    slurm_env = load_slurm_env()
    host = urlsplit(slurm_env["SLURM_REST_URL"]).hostname
    if host not in {"127.0.0.1", "localhost", "::1"}:
        sys.exit(f"refusing to load a non-local slurmrestd ({host})")
    for key, value in slurm_env.items():
        os.environ[key] = value
    os.environ["SLURM_JOB_WORKDIR"] = slurm_env.get("SLURM_WORKDIR") or "/tmp"
    # A queue of its own, shared with the consumer started below; tasks are not run inline.
    os.environ["HUEY_IMMEDIATE"] = "0"
    os.environ["HUEY_NAME"] = f"bench-jobs-{os.getpid()}"
    os.environ["HUEY_SQLITE_FILE"] = str(ROOT / "var" / f"bench_huey_{os.getpid()}.sqlite3")

    import django

    django.setup()
    from django.conf import settings
    from django.db import connection
    from django.test.utils import setup_test_environment, teardown_test_environment

    from benchmarks.bench_api import start_server, stop_server
    from booking.compute import following, services, slurm
    from booking.compute.models import ComputeJob, JobState

    settings.API_RATE_LIMIT_PER_MINUTE = 0
    if connection.vendor == "sqlite":
        # A file, not shared-cache memory: the consumer is another process.
        connection.settings_dict["TEST"]["NAME"] = str(ROOT / "var" / "bench_jobs.sqlite3")
    else:
        # Its own name: never clobber another run's test database on a shared server.
        connection.settings_dict["TEST"]["NAME"] = f"test_bench_jobs_{os.getpid()}"
    setup_test_environment()
    old_name = connection.creation.create_test_db(verbosity=0, autoclobber=True, keepdb=False)
    client = slurm.slurm_client()
    consumer = None
    server = None
    log_path = ROOT / "var" / "bench_jobs_huey.log"
    try:
        print(
            f"slurmrestd {client.config.base_url} (Slurm {client.ping().release}); "
            f"database {connection.vendor}; huey {settings.HUEY['huey_class']}; {count} jobs; "
            f"{args.workers} worker processes; via {args.via}"
            + (
                f" (gunicorn × {args.server_workers}, {args.clients} clients)"
                if args.via == "api"
                else ""
            )
        )
        workdir = os.environ["SLURM_JOB_WORKDIR"]
        one, many = raw_ceiling(client, count=count, clients=args.workers, workdir=workdir)
        print(
            f"ceiling  raw submissions: {one:6.1f} jobs/s (1 client), "
            f"{many:6.1f} jobs/s ({args.workers} clients)  [held jobs: the submit path alone]"
        )
        run_one, run_many = raw_ceiling(
            client, count=count, clients=args.workers, workdir=workdir, hold=False
        )
        print(
            f"ceiling  raw submissions: {run_one:6.1f} jobs/s (1 client), "
            f"{run_many:6.1f} jobs/s ({args.workers} clients)  [jobs that run, like ours]"
        )
        accounting = slurm_env.get("SLURM_DEV_ACCOUNTING") == "1"
        user, tenant, secret = build(slurm_env, client, accounting=accounting)

        def start_consumer() -> subprocess.Popen:
            with open(log_path, "a") as log:
                process = subprocess.Popen(
                    [
                        sys.executable,
                        str(ROOT / "manage.py"),
                        "run_huey",
                        "--workers",
                        str(args.workers),
                        "--worker-type",
                        "process",
                        "--no-periodic",
                        "--delay",
                        "0.02",
                        "--max-delay",
                        "0.2",
                    ],
                    cwd=ROOT,
                    env=consumer_env(connection, args.workers),
                    stdin=subprocess.DEVNULL,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                )
            time.sleep(2)  # let the consumer start its workers
            if process.poll() is not None:
                raise SystemExit(f"huey consumer exited; see {log_path}")
            return process

        def stop_consumer(process: subprocess.Popen) -> None:
            if process.poll() is None:
                process.send_signal(signal.SIGINT)
                try:
                    process.wait(timeout=20)
                except subprocess.TimeoutExpired:
                    process.kill()

        log_path.write_text("")
        consumer = start_consumer()
        if args.via == "api":
            # The API as in production: gunicorn, several sync workers, DEBUG=0.
            server, server_url = start_server(
                database_url=consumer_env(connection, args.workers)["DATABASE_URL"],
                workers=args.server_workers,
                log=ROOT / "var" / "bench_jobs_gunicorn.log",
            )

        # The follower runs throughout, as the periodic task does in production: a job that
        # ends while others are still being submitted is noticed on the next pass.
        follow_stop = threading.Event()
        pass_times: list[float] = []

        def follower() -> None:
            from django.db import connection as thread_connection

            try:
                while not follow_stop.is_set():
                    p0 = time.perf_counter()
                    following.jobs_follow()
                    pass_times.append(time.perf_counter() - p0)
                    follow_stop.wait(args.follow_interval)
            finally:
                thread_connection.close()

        follow_thread = threading.Thread(target=follower, daemon=True)
        follow_thread.start()

        request_times: list[float] = []
        failures: list[str] = []
        if args.partition_down:
            set_partition(PAYLOAD["partition"], "DOWN")
        started = datetime.now(UTC)
        t0 = time.perf_counter()
        if args.via == "api":
            # --clients concurrent clients, each a process of its own (no shared GIL with the
            # follower thread) on one kept-alive connection to gunicorn.
            context = multiprocessing.get_context("spawn")
            results = context.Queue()
            posters = [
                context.Process(
                    target=post_jobs,
                    args=(server_url, secret, count // args.clients + (i < count % args.clients)),
                    kwargs={"results": results},
                )
                for i in range(args.clients)
            ]
            for poster in posters:
                poster.start()
            for _ in posters:
                times, failure = results.get()
                request_times.extend(times)
                if failure:
                    failures.append(failure)
            for poster in posters:
                poster.join()
            if failures:
                raise SystemExit(f"API said {failures[0]}")
        else:
            for _ in range(count):
                r0 = time.perf_counter()
                services.job_submit(user=user, tenant=tenant, **PAYLOAD)
                request_times.append(time.perf_counter() - r0)
        stored = time.perf_counter() - t0
        ids = list(ComputeJob.objects.filter(tenant=tenant).values_list("pk", flat=True))
        wait_sent(ids, "jobs", log_path)
        last_sent = max(
            ComputeJob.objects.filter(pk__in=ids).values_list("submitted_at", flat=True)
        )
        e2e = count / (last_sent - started).total_seconds()
        if args.partition_down:
            set_partition(PAYLOAD["partition"], "UP")
        print(
            f"requests {count / stored:6.1f} jobs/s stored "
            f"(p50 {statistics.median(request_times) * 1000:.1f} ms, "
            f"p99 {pct(request_times, 0.99) * 1000:.1f} ms per request"
            + (f", {args.clients} clients)" if args.via == "api" else ")")
        )
        print(
            f"end to end {e2e:6.1f} jobs/s into Slurm = {100 * e2e / one:.0f}% of the 1-client "
            f"ceiling, {100 * e2e / many:.0f}% of the {args.workers}-client ceiling (held); "
            f"{100 * e2e / run_one:.0f}% / {100 * e2e / run_many:.0f}% of the running-jobs ones"
        )

        # Wait until the follower has seen every job end.
        t0 = time.perf_counter()
        live_states = [JobState.QUEUED, JobState.PENDING, JobState.RUNNING]
        while ComputeJob.objects.filter(pk__in=ids, state__in=live_states).exists():
            if time.perf_counter() - t0 > 600:
                print("gave up waiting after 600 s")
                break
            time.sleep(0.2)
        follow_stop.set()
        follow_thread.join(timeout=60)
        passes = len(pass_times)
        rows = list(
            ComputeJob.objects.filter(pk__in=ids)
            .exclude(state__in=live_states)
            .values_list("state", "ended_at", "updated_at")
        )
        delays = [(updated - ended).total_seconds() for _, ended, updated in rows if ended]
        states: dict[str, int] = {}
        for state, *_ in rows:
            states[state] = states.get(state, 0) + 1
        print(
            f"follow   {len(rows)} jobs ended {states}, the last {time.perf_counter() - t0:.1f} s "
            f"after the last was sent; {passes} passes every {args.follow_interval} s, pass p50 "
            f"{statistics.median(pass_times) * 1000:.0f} ms"
        )
        if delays:
            print(
                f"delay    Slurm end → final state in our database: p50 "
                f"{statistics.median(delays):.2f} s, p95 {pct(delays, 0.95):.2f} s, "
                f"max {max(delays):.2f} s"
            )
        for job in ComputeJob.objects.filter(pk__in=ids, state__in=live_states):
            services.job_cancel(user=user, job=job)

        # The submission path alone: a backlog of stored jobs (the consumer stopped, as after an
        # outage) drained by the workers - each job through job_send's exactly-once rules (the
        # reconcile look-up, the submission, the row update) - against the raw ceiling. Once as
        # they would run (slurmctld launches them meanwhile, on the same cores), once with the
        # partition down: they queue in Slurm and none starts, as the held ceiling's jobs do.
        def drain(name: str) -> tuple[int, float]:
            nonlocal consumer
            stop_consumer(consumer)
            for _ in range(count):
                services.job_submit(user=user, tenant=tenant, **{**PAYLOAD, "name": name})
            backlog = list(
                ComputeJob.objects.filter(tenant=tenant, name=name).values_list("pk", flat=True)
            )
            consumer = start_consumer()
            wait_sent(backlog, "backlog", log_path)
            sent = sorted(
                ComputeJob.objects.filter(pk__in=backlog).values_list("submitted_at", flat=True)
            )
            for job in ComputeJob.objects.filter(pk__in=backlog, state__in=live_states):
                services.job_cancel(user=user, job=job)
            # Jobs recorded after the first recording instant over the time to the last one (a
            # batch records all its ids at once: the first batch's jobs are not counted).
            later = sum(1 for at in sent if at > sent[0])
            return len(sent), later / max((sent[-1] - sent[0]).total_seconds(), 1e-6)

        n, rate = drain("backlog")
        print(
            f"backlog  {n} stored jobs drained into Slurm at {rate:6.1f} jobs/s = "
            f"{100 * rate / one:.0f}% of the 1-client ceiling, "
            f"{100 * rate / many:.0f}% of the {args.workers}-client ceiling (held); "
            f"{100 * rate / run_one:.0f}% / {100 * rate / run_many:.0f}% of the running-jobs ones"
        )
        set_partition(PAYLOAD["partition"], "DOWN")
        try:
            n, rate = drain("backlog-queued")
        finally:
            set_partition(PAYLOAD["partition"], "UP")
        print(
            f"backlog  {n} stored jobs drained with the partition down (none starts, as the held "
            f"ceiling's) at {rate:6.1f} jobs/s = {100 * rate / one:.0f}% of the 1-client ceiling, "
            f"{100 * rate / many:.0f}% of the {args.workers}-client ceiling (held)"
        )
        print("load average {:.2f} {:.2f} {:.2f}".format(*os.getloadavg()))
    finally:
        if args.partition_down:
            set_partition(PAYLOAD["partition"], "UP")
        if server is not None:
            stop_server(server)
        if consumer is not None:
            stop_consumer(consumer)
        client.close()
        connection.close()
        connection.creation.destroy_test_db(old_name, verbosity=0)
        teardown_test_environment()
        Path(os.environ["HUEY_SQLITE_FILE"]).unlink(missing_ok=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
