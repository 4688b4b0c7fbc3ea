"""Throughput and latency of the researcher API behind a real server, against its ceiling.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/park uv run python benchmarks/bench_api.py
    uv run python benchmarks/bench_api.py --smoke        # tiny park, 2 s per run (also on SQLite)
    ... --duration 10 --connections 20 --workers 2 --resources 200 --bookings 50000

Builds the scaled park of benchmarks/bench_booking_pages.py (200 resources, 100 tenants, 50,000
bookings over a year) in a database of its own, gives 20 members of 20 tenants a token, starts
gunicorn (sync workers, loopback, production settings with DEBUG off) and drives it with wrk
(Debian's package; 20 connections, 2 threads, Lua scripts for the token header and the bodies):

- ceiling: a bare Django view answering a constant (/bench/ceiling, mounted only when the
  BENCHMARK setting is on), the most this server can answer;
- availability: GET /api/v1/resources/<gpu node>/availability for one week (token auth, rate
  limit, the availability selector's three queries);
- booking creation: POST /api/v1/bookings with an Idempotency-Key, every request a fresh free
  1-hour slot on one of the GPU nodes (all booking rules, row locks, the confirmation e-mail
  rendered to a dummy backend).

- token auth only: GET /api/v1/me, the least any authenticated API call costs (the token's
  one query and the API's framing), to show how much of the gap to the ceiling is the call's own.

Prints one table: requests/s, median and p99 latency, non-2xx answers, and the availability's
share of the ceiling (the aim is at least half) and of the token-auth-only call.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings_test")

AVAILABILITY_LUA = """
wrk.headers["Authorization"] = "Bearer %(token)s"
"""

# Each wrk thread numbers its requests; request g books slot g: GPU node g %% n, hour g / n
# after the base time, so no two requests ever ask for the same slot.
CREATE_LUA = """
local tokens = {%(tokens)s}
local resources = {%(resources)s}
local base = %(base)d
local threads = %(threads)d
local counter = 0
local next_id = 0

function setup(thread)
  thread:set("tid", next_id)
  next_id = next_id + 1
end

function request()
  local g = counter * threads + tid
  counter = counter + 1
  local n = #resources
  local t = base + math.floor(g / n) * 3600
  local body = string.format(
    '{"resource":"%%s","title":"bench %%d","units":1,"start":"%%s","end":"%%s"}',
    resources[(g %% n) + 1], g,
    os.date("!%%Y-%%m-%%dT%%H:00:00Z", t), os.date("!%%Y-%%m-%%dT%%H:00:00Z", t + 3600))
  local headers = {}
  headers["Content-Type"] = "application/json"
  headers["Authorization"] = "Bearer " .. tokens[(g %% #tokens) + 1]
  headers["Idempotency-Key"] = string.format("bench-%%d-%%d", tid, counter)
  return wrk.format("POST", "/api/v1/bookings", headers, body)
end
"""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _millis(text: str) -> float:
    value, unit = re.fullmatch(r"([\d.]+)(us|ms|s|m)", text).groups()
    return float(value) * {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60000.0}[unit]


def parse_wrk(output: str) -> dict:
    """req/s, median and p99 latency (ms), request and non-2xx counts from ``wrk --latency``."""
    rate = re.search(r"Requests/sec:\s+([\d.]+)", output)
    total = re.search(r"(\d+) requests in", output)
    p50 = re.search(r"^\s+50%\s+(\S+)", output, re.M)
    p99 = re.search(r"^\s+99%\s+(\S+)", output, re.M)
    bad = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", output)
    errors = re.search(r"Socket errors:(.*)", output)
    if not (rate and total and p50 and p99):
        raise RuntimeError(f"could not read wrk's output:\n{output}")
    return {
        "rps": float(rate.group(1)),
        "requests": int(total.group(1)),
        "p50": _millis(p50.group(1)),
        "p99": _millis(p99.group(1)),
        "non_2xx": int(bad.group(1)) if bad else 0,
        "socket_errors": errors.group(1).strip() if errors else "",
    }


def run_wrk(url: str, *, script: str, duration: int, connections: int, threads: int) -> dict:
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as handle:
        handle.write(script)
        path = handle.name
    try:
        out = subprocess.run(
            [
                "wrk",
                f"-t{threads}",
                f"-c{connections}",
                f"-d{duration}s",
                "--latency",
                "--timeout",
                "10s",
                "-s",
                path,
                url,
            ],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
    finally:
        os.unlink(path)
    return parse_wrk(out)


def _server_env(database_url: str) -> dict:
    env = dict(os.environ)
    env.update(
        DJANGO_SETTINGS_MODULE="config.settings",
        DATABASE_URL=database_url,
        DEBUG="0",
        SECRET_KEY="bench-only-secret-key-not-for-production-use-0123456789",  # noqa: S105
        ALLOWED_HOSTS="127.0.0.1,localhost",
        BENCHMARK="1",
        # Counted as always, but never reached: the benchmark measures work, not refusals.
        API_RATE_LIMIT_PER_MINUTE="1000000000",
        EMAIL_BACKEND="django.core.mail.backends.dummy.EmailBackend",
        LOG_LEVEL="ERROR",
        HUEY_IMMEDIATE="0",
        # Plain http on the loopback: production's HTTPS redirect and secure cookies stay off,
        # and one access line per request would measure the log, not the API.
        SECURE_SSL_REDIRECT="0",
        SESSION_COOKIE_SECURE="0",
        CSRF_COOKIE_SECURE="0",
        ACCESS_LOG_LEVEL="WARNING",
    )
    return env


def start_server(*, database_url: str, workers: int, log: Path) -> tuple[subprocess.Popen, str]:
    """gunicorn as in production (deploy/gunicorn.conf.py: sync workers, the app preloaded in
    the master) on a free loopback port; returns once every worker has answered."""
    port = _free_port()
    gunicorn = shutil.which("gunicorn") or str(Path(sys.executable).parent / "gunicorn")
    env = _server_env(database_url)
    env.update(
        GUNICORN_BIND=f"127.0.0.1:{port}",
        GUNICORN_WORKERS=str(workers),
        GUNICORN_WORKER_CLASS="sync",
    )
    process = subprocess.Popen(
        [gunicorn, "-c", str(ROOT / "deploy" / "gunicorn.conf.py"), "config.wsgi"],
        cwd=ROOT,
        env=env,
        stdout=log.open("w"),
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    url = f"http://127.0.0.1:{port}"
    import httpx

    for _ in range(300):
        if process.poll() is not None:
            raise RuntimeError(f"gunicorn exited; see {log}")
        try:
            if httpx.get(f"{url}/bench/ceiling", timeout=1).status_code == 200:
                _warm(url, workers)
                return process, url
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    stop_server(process)
    raise RuntimeError(f"gunicorn did not answer; see {log}")


def _warm(url: str, workers: int) -> None:
    """Requests from as many concurrent connections as there are workers, so that every worker
    has answered (and opened its database connection) before anything is measured."""
    import threading

    import httpx

    def run() -> None:
        with httpx.Client(base_url=url, timeout=30) as http:
            for _ in range(20):
                http.get("/bench/ceiling")

    threads = [threading.Thread(target=run) for _ in range(workers * 2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()


def stop_server(process: subprocess.Popen) -> None:
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


def database_url_for(connection) -> str:
    s = connection.settings_dict
    if connection.vendor == "postgresql":
        auth = s["USER"] + (f":{s['PASSWORD']}" if s["PASSWORD"] else "")
        return f"postgres://{auth}@{s['HOST'] or '127.0.0.1'}:{s['PORT'] or 5432}/{s['NAME']}"
    return f"sqlite:///{Path(s['NAME']).resolve()}"


def make_tokens(park: dict, count: int) -> list[str]:
    from django.contrib.auth import get_user_model
    from django.utils import timezone

    from booking.tenancy.models import Membership
    from booking.tokens.services import api_token_create

    User = get_user_model()
    tokens = []
    members = Membership.objects.filter(role="member").select_related("tenant", "user")
    for membership in members.order_by("tenant__slug", "user__username")[:count]:
        _token, secret = api_token_create(
            user=User.objects.get(pk=membership.user_id),
            tenant=membership.tenant,
            name="bench",
            scopes=["read", "book"],
            expires_at=timezone.now() + dt.timedelta(days=1),
        )
        tokens.append(secret)
    return tokens


def report(rows: list[tuple[str, dict]], *, vendor: str, park: dict, args) -> str:
    lines = [
        f"database: {vendor}; resources: {len(park['resources'])}; bookings: {park['bookings']}; "
        f"gunicorn sync × {args.workers}; wrk {args.connections} connections, "
        f"{args.duration} s per run",
        f"{'endpoint':28s} {'req/s':>9s} {'median ms':>10s} {'p99 ms':>9s} "
        f"{'requests':>9s} {'non-2xx':>8s}",
    ]
    for name, r in rows:
        lines.append(
            f"{name:28s} {r['rps']:9.0f} {r['p50']:10.2f} {r['p99']:9.2f} "
            f"{r['requests']:9d} {r['non_2xx']:8d}"
            + (f"  socket errors: {r['socket_errors']}" if r["socket_errors"] else "")
        )
    results = dict(rows)
    share = results["availability (1 week)"]["rps"] / results["ceiling (constant view)"]["rps"]
    lines.append(f"availability / ceiling throughput: {share:.0%} (aim: at least 50%)")
    auth = results["availability (1 week)"]["rps"] / results["token auth only (GET /me)"]["rps"]
    lines.append(f"availability / token-auth-only throughput: {auth:.0%}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--smoke", action="store_true", help="tiny park, 2 s per run")
    parser.add_argument("--duration", type=int, default=10)
    parser.add_argument("--connections", type=int, default=20)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--resources", type=int, default=200)
    parser.add_argument("--tenants", type=int, default=100)
    parser.add_argument("--bookings", type=int, default=50_000)
    args = parser.parse_args(argv)
    if args.smoke:
        args.duration, args.resources, args.tenants, args.bookings = 2, 10, 20, 500
    if shutil.which("wrk") is None:
        print("wrk is not installed (apt-get install -y wrk)", file=sys.stderr)
        return 2

    import django

    django.setup()
    from bench_booking_pages import build_park
    from django.conf import settings
    from django.db import connection
    from django.test.utils import setup_test_environment, teardown_test_environment
    from django.utils import timezone

    setup_test_environment()
    # A database of its own (a file for SQLite, so the server processes share it).
    test_settings = connection.settings_dict.setdefault("TEST", {})
    if connection.vendor == "sqlite":
        test_settings["NAME"] = str(Path(settings.VAR_DIR) / "bench_api.sqlite3")
    else:
        test_settings["NAME"] = "park_bench_api"
    old_name = connection.creation.create_test_db(verbosity=0, autoclobber=True, keepdb=False)
    server = None
    try:
        t0 = time.perf_counter()
        park = build_park(resources=args.resources, tenants=args.tenants, bookings=args.bookings)
        tokens = make_tokens(park, count=args.connections)
        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                cursor.execute("ANALYZE")
        print(f"built the park in {time.perf_counter() - t0:.1f} s")
        url = database_url_for(connection)
        connection.close()  # the server's workers own the database from here on
        server, base = start_server(
            database_url=url,
            workers=args.workers,
            log=Path(settings.VAR_DIR) / "bench_api_gunicorn.log",
        )

        gpus = [
            r.slug for r in park["resources"] if r.kind == "gpu" and r.booking_mode == "instant"
        ]
        monday = timezone.localdate() - dt.timedelta(days=timezone.localdate().weekday())
        tz = timezone.get_current_timezone()
        week_start = dt.datetime.combine(monday, dt.time.min, tzinfo=tz)
        week = (
            f"start={week_start.isoformat().replace('+', '%2B')}"
            f"&end={(week_start + dt.timedelta(days=7)).isoformat().replace('+', '%2B')}"
        )
        # Past the bookings the park was built with (they reach 182 days ahead).
        first = dt.datetime.combine(
            timezone.localdate() + dt.timedelta(days=190), dt.time(0), tzinfo=dt.UTC
        )
        wrk = {"duration": args.duration, "connections": args.connections, "threads": args.threads}
        rows = []
        # Warm every worker (imports, URL conf, connections) before measuring.
        run_wrk(f"{base}/bench/ceiling", script="", **{**wrk, "duration": 1})
        rows.append(("ceiling (constant view)", run_wrk(f"{base}/bench/ceiling", script="", **wrk)))
        # The least any API call costs: token authentication (one query) and the API's framing.
        rows.append(
            (
                "token auth only (GET /me)",
                run_wrk(f"{base}/api/v1/me", script=AVAILABILITY_LUA % {"token": tokens[0]}, **wrk),
            )
        )
        rows.append(
            (
                "availability (1 week)",
                run_wrk(
                    f"{base}/api/v1/resources/{gpus[0]}/availability?{week}",
                    script=AVAILABILITY_LUA % {"token": tokens[0]},
                    **wrk,
                ),
            )
        )
        # One client: the service time of a call without queueing behind others.
        rows.append(
            (
                "availability, 1 client",
                run_wrk(
                    f"{base}/api/v1/resources/{gpus[0]}/availability?{week}",
                    script=AVAILABILITY_LUA % {"token": tokens[0]},
                    **{**wrk, "connections": 1, "threads": 1},
                ),
            )
        )
        create_script = CREATE_LUA % {
            "tokens": ", ".join(f'"{t}"' for t in tokens),
            "resources": ", ".join(f'"{slug}"' for slug in gpus),
            "base": int(first.timestamp()),
            "threads": args.threads,
        }
        rows.append(
            ("booking creation", run_wrk(f"{base}/api/v1/bookings", script=create_script, **wrk))
        )
        print(report(rows, vendor=connection.vendor, park=park, args=args))
        from booking.bookings.models import Booking

        created = Booking.objects.filter(start__gte=first).count()
        print(f"bookings created by the run: {created}")
        failed = sum(r["non_2xx"] for _name, r in rows)
        return 0 if failed == 0 and created > 0 else 1
    finally:
        if server is not None:
            stop_server(server)
        connection.close()
        connection.creation.destroy_test_db(old_name, verbosity=0)
        teardown_test_environment()


if __name__ == "__main__":
    raise SystemExit(main())
