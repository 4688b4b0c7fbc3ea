"""``/healthz``: the database, the task queue and each configured Slurm cluster, as JSON.

200 when every check passes, 503 otherwise; each check says how long it took and, when it
failed, why (a short class of error, never a secret). Slurm is asked with a short timeout and
no retries so a load balancer's probe stays quick.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from django.conf import settings
from django.db import connection
from django.http import HttpRequest, JsonResponse
from django.views.decorators.cache import never_cache

SLURM_PROBE_TIMEOUT = 2.0


def check_database() -> dict:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
        cursor.fetchone()
    return {"vendor": connection.vendor}


def check_queue() -> dict:
    from huey.contrib.djhuey import HUEY

    return {"backend": type(HUEY).__name__, "pending": HUEY.pending_count()}


def slurm_configs() -> list:
    """The Slurm clusters this server is configured for (none when SLURM_REST_URL is unset)."""
    from resources.slurm.client import SlurmConfig

    if not settings.SLURM_REST_URL:
        return []
    return [
        SlurmConfig(
            base_url=settings.SLURM_REST_URL,
            user=settings.SLURM_USER or "slurm",
            api_version=settings.SLURM_API_VERSION,
            jwt_key_file=settings.SLURM_JWT_KEY_FILE or None,
            token=settings.SLURM_TOKEN or None,
            cluster=settings.SLURM_CLUSTER or None,
            timeout=SLURM_PROBE_TIMEOUT,
            connect_timeout=SLURM_PROBE_TIMEOUT,
            retries=0,
        )
    ]


def registered_cluster_configs() -> list:
    """The other registered clusters this server can reach, as (name, config) with the probe's
    short timeouts. A cluster an operator marked down is not asked; one without a URL or
    credentials on this server is listed as not configured (it takes no jobs from here)."""
    import dataclasses

    from django.core.exceptions import ImproperlyConfigured

    from resources.clusters import Cluster, ClusterState

    out = []
    for cluster in Cluster.objects.exclude(state=ClusterState.DOWN).order_by("priority", "name"):
        if cluster.is_default:
            continue  # the SLURM_* settings above
        try:
            config = cluster.slurm_config()
        except ImproperlyConfigured:
            out.append((cluster.name, None))
            continue
        out.append(
            (
                cluster.name,
                dataclasses.replace(
                    config,
                    timeout=SLURM_PROBE_TIMEOUT,
                    connect_timeout=SLURM_PROBE_TIMEOUT,
                    retries=0,
                ),
            )
        )
    return out


def check_slurm(config) -> dict:
    from resources.slurm.client import SlurmClient

    with SlurmClient(config) as client:
        ping = client.ping()
    if not ping.up:
        raise RuntimeError(f"slurmctld on {ping.hostname} does not answer")
    return {"url": config.base_url, "controller": ping.hostname, "release": ping.release}


def _run(check: Callable[[], dict]) -> dict:
    started = time.perf_counter()
    try:
        result = {"ok": True, **check()}
    except Exception as error:  # a failed check is reported, not raised
        result = {"ok": False, "error": f"{type(error).__name__}: {str(error)[:200]}"}
    result["ms"] = round((time.perf_counter() - started) * 1000, 1)
    return result


@never_cache
def healthz(request: HttpRequest) -> JsonResponse:
    checks = {"database": _run(check_database), "queue": _run(check_queue)}
    for config in slurm_configs():
        checks[f"slurm:{config.cluster or config.base_url}"] = _run(
            lambda config=config: check_slurm(config)
        )
    try:
        registered = registered_cluster_configs()
    except Exception:  # the database check above already names a database failure
        registered = []
    for name, config in registered:
        key = f"slurm:{name}"
        if key in checks:
            continue
        if config is None:
            checks[key] = {"ok": True, "configured": False}
        else:
            checks[key] = _run(lambda config=config: check_slurm(config))
    ok = all(c["ok"] for c in checks.values())
    return JsonResponse(
        {"status": "ok" if ok else "failing", "checks": checks}, status=200 if ok else 503
    )
