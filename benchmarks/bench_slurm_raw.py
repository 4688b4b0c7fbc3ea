"""Raw submission rate to slurmrestd on the dev cluster: the ceiling for the booking service.

    scripts/slurm-dev-cluster up
    uv run python benchmarks/bench_slurm_raw.py [--count 500] [--clients 8] [--run]

Submits ``count`` tiny jobs three ways - plain httpx on one keep-alive connection, the typed
SlurmClient on one connection, and ``clients`` concurrent keep-alive connections - and prints
jobs/s and latency percentiles. Jobs are submitted held and cancelled afterwards (so the benchmark
measures slurmrestd and slurmctld's submit path, not job start-up); ``--run`` lets them run.
Loopback only: it refuses a non-local SLURM_REST_URL.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import threading
import time
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlsplit

import httpx

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from resources.slurm import JobSpec, SlurmClient, config_from_env  # noqa: E402
from resources.slurm.payloads import mapping_for  # noqa: E402


def load_env() -> dict[str, str]:
    if os.environ.get("SLURM_REST_URL"):
        return dict(os.environ)
    env_file = Path(os.environ.get("SLURM_DEV_DIR") or REPO / "var" / "slurm") / "env"
    if not env_file.exists():
        sys.exit("no cluster: run scripts/slurm-dev-cluster up (or set SLURM_REST_URL)")
    values = {}
    for line in env_file.read_text().splitlines():
        if "=" in line:
            key, value = line.removeprefix("export ").split("=", 1)
            values[key] = value.strip('"')
    return values


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def report(label: str, count: int, elapsed: float, latencies: list[float]) -> float:
    rate = count / elapsed
    print(
        f"{label:<34} {count:5d} jobs in {elapsed:6.2f} s = {rate:7.1f} jobs/s   "
        f"p50 {statistics.median(latencies) * 1000:6.1f} ms  "
        f"p99 {percentile(latencies, 0.99) * 1000:6.1f} ms"
    )
    return rate


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=500, help="jobs per run (max 2000)")
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--run", action="store_true", help="let the jobs run instead of holding")
    parser.add_argument(
        "--cluster",
        choices=["park", "hub"],
        default="park",
        help="the park's own cluster or the GBA hub (the SLURM_HUB_* lines of the env file)",
    )
    args = parser.parse_args()
    count = min(args.count, 2000)

    env = load_env()
    if args.cluster == "hub":
        if not env.get("SLURM_HUB_REST_URL"):
            sys.exit("the dev cluster runs no hub (SLURM_DEV_HUB=0)")
        env = {
            **env,
            "SLURM_REST_URL": env["SLURM_HUB_REST_URL"],
            "SLURM_JWT_KEY_FILE": env["SLURM_HUB_JWT_KEY_FILE"],
            "SLURM_CLUSTER": env["SLURM_HUB_CLUSTER"],
            "SLURM_CONF": env.get("SLURM_HUB_CONF", env.get("SLURM_CONF", "")),
        }
    config = config_from_env(env)
    host = urlsplit(config.base_url).hostname
    if host not in {"127.0.0.1", "localhost", "::1"}:
        sys.exit(f"refusing to load a non-local slurmrestd ({host})")
    workdir = env.get("SLURM_WORKDIR") or "/tmp"
    mapping = mapping_for(config.api_version)
    spec = JobSpec(
        script="#!/bin/sh\ntrue\n",
        name="bench-raw",
        working_directory=workdir,
        time_limit_minutes=1,
        memory_mb=64,
        partition="gpu" if args.cluster == "hub" else "cpu",  # the hub has only gpu
        standard_output="/dev/null",
        hold=not args.run,
    )
    body = mapping.encode_job(spec, now=datetime.now(UTC))
    submitted: list[int] = []
    lock = threading.Lock()

    with SlurmClient(config) as client:
        ping = client.ping()
        print(f"slurmrestd {config.base_url} (Slurm {ping.release}, {config.api_version})")
        token = client.tokens.token_for()
        headers = {"X-SLURM-USER-NAME": config.user, "X-SLURM-USER-TOKEN": token}
        path = mapping.path("submit")

        def raw_submits(n: int, latencies: list[float]) -> None:
            with httpx.Client(base_url=config.base_url, headers=headers, timeout=30) as http:
                for _ in range(n):
                    t0 = time.perf_counter()
                    response = http.post(path, json=body)
                    latencies.append(time.perf_counter() - t0)
                    response.raise_for_status()
                    with lock:
                        submitted.append(response.json()["job_id"])

        rates = {}
        latencies: list[float] = []
        t0 = time.perf_counter()
        raw_submits(count, latencies)
        rates["raw"] = report(
            "raw httpx, 1 keep-alive client", count, time.perf_counter() - t0, latencies
        )

        latencies = []
        t0 = time.perf_counter()
        for _ in range(count):
            s0 = time.perf_counter()
            job_id = client.submit(spec)
            latencies.append(time.perf_counter() - s0)
            submitted.append(job_id)
        rates["typed"] = report(
            "SlurmClient, 1 keep-alive client", count, time.perf_counter() - t0, latencies
        )

        per_client = [
            count // args.clients + (i < count % args.clients) for i in range(args.clients)
        ]
        all_latencies: list[list[float]] = [[] for _ in per_client]
        threads = [
            threading.Thread(target=raw_submits, args=(n, all_latencies[i]))
            for i, n in enumerate(per_client)
        ]
        t0 = time.perf_counter()
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        merged = [x for part in all_latencies for x in part]
        rates["concurrent"] = report(
            f"raw httpx, {args.clients} concurrent clients", count, time.perf_counter() - t0, merged
        )

        if not args.run:
            t0 = time.perf_counter()
            for job_id in submitted:
                client.cancel(job_id)
            elapsed = time.perf_counter() - t0
            print(f"{'cancelled the held jobs':<34} {len(submitted):5d} jobs in {elapsed:6.2f} s")
    print(
        "summary: raw {raw:.0f}/s, typed client {typed:.0f}/s, {n} clients {concurrent:.0f}/s".format(
            n=args.clients, **rates
        )
    )


if __name__ == "__main__":
    main()
