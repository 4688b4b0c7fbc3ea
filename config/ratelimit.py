"""A sliding-window rate limiter on Django's cache, shared by the API, bad tokens and sign-in.

A window of ``period`` seconds is cut into ``SLICES`` equal slices, each an atomic counter in
the cache (``add`` + ``incr``: atomic in Redis, per process in local memory). A hit counts the
current slice and every earlier slice the window can still reach, so **any** span of ``period``
seconds holds at most ``limit`` hits, also across a clock-minute boundary (a fixed per-minute
counter allowed twice the limit there). The price is a window up to one slice longer than
``period`` for a caller that used its whole allowance.

Refused hits are not counted: a client retrying too fast is not locked out for longer than the
window.
"""

from __future__ import annotations

import logging
import math
import time
from dataclasses import dataclass

from django.conf import settings
from django.core.cache import cache, caches
from django.core.cache.backends.redis import RedisCache

SLICES = 10

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Verdict:
    allowed: bool
    count: int
    retry_after: int  # seconds until one more hit would be allowed (0 when allowed)


def _slice_keys(name: str, key: str, period: float, now: float) -> tuple[list[str], int, float]:
    width = period / SLICES
    current = int(now // width)
    # Slices current-SLICES … current: the span any window of `period` ending now touches.
    keys = [f"rl:{name}:{key}:{i}" for i in range(current - SLICES, current + 1)]
    return keys, current, width


def _retry_after(counts: list[int], limit: int, current: int, width: float, now: float) -> int:
    """Seconds until enough of the oldest slices leave the window for one more hit."""
    total = sum(counts)
    first = current - SLICES
    for offset, count in enumerate(counts):
        total -= count
        if total < limit:
            # Slice `first + offset` leaves the window when slice `first + offset + SLICES + 1`
            # begins.
            leaves_at = (first + offset + SLICES + 1) * width
            return max(1, math.ceil(leaves_at - now))
    return max(1, math.ceil(width))  # pragma: no cover - the current slice alone is over


def peek(name: str, key: str, *, limit: int, period: float, now: float | None = None) -> Verdict:
    """Would one more hit be allowed? Counts nothing. Fails open like ``hit``."""
    now = time.time() if now is None else now
    keys, current, width = _slice_keys(name, key, period, now)
    try:
        found = cache.get_many(keys)
    except Exception as error:  # noqa: BLE001 - any cache failure: fail open, say so
        logger.warning("rate limit not applied (%s): the cache is unavailable (%s)", name, error)
        return Verdict(True, 0, 0)
    counts = [int(found.get(k, 0)) for k in keys]
    total = sum(counts)
    if total < limit:
        return Verdict(True, total, 0)
    return Verdict(False, total, _retry_after(counts, limit, current, width, now))


def hit(name: str, key: str, *, limit: int, period: float, now: float | None = None) -> Verdict:
    """Count one hit for ``key`` under the limiter ``name`` unless that exceeds ``limit``.

    The counters live in the cache (Redis in production). When the cache does not answer, the
    limiter fails open: the hit is allowed and a warning says the limit was not applied, so a
    cache outage never turns into refused or failed requests."""
    try:
        return _hit(name, key, limit=limit, period=period, now=now)
    except Exception as error:  # noqa: BLE001 - any cache failure: fail open, say so
        logger.warning("rate limit not applied (%s): the cache is unavailable (%s)", name, error)
        return Verdict(True, 0, 0)


def _hit(name: str, key: str, *, limit: int, period: float, now: float | None) -> Verdict:
    now = time.time() if now is None else now
    keys, current, width = _slice_keys(name, key, period, now)
    mine = keys[-1]
    timeout = math.ceil(period + 2 * width) + 1
    backend = caches["default"]
    if isinstance(backend, RedisCache):
        counts = _count_in_redis(backend, keys, timeout)
    else:
        if not cache.add(mine, 1, timeout=timeout):
            try:
                cache.incr(mine)
            except ValueError:  # expired between add and incr
                cache.set(mine, 1, timeout=timeout)
        found = cache.get_many(keys)
        counts = [int(found.get(k, 0)) for k in keys]
    total = sum(counts)
    if total <= limit:
        return Verdict(True, total, 0)
    # Over: take the hit back so refused calls do not prolong the refusal.
    try:
        cache.decr(mine)
    except ValueError:  # pragma: no cover - expired meanwhile
        pass
    counts[-1] -= 1
    return Verdict(False, total - 1, _retry_after(counts, limit, current, width, now))


def _count_in_redis(backend: RedisCache, keys: list[str], timeout: int) -> list[int]:
    """Count a hit in the last slice and read every slice, in one round trip to Redis (INCR
    creates a missing counter at 1; the cache stores integers as plain Redis integers, so
    Django's own ``incr``/``get_many`` read the same values)."""
    full = [backend.make_and_validate_key(k) for k in keys]
    client = backend._cache.get_client(full[-1], write=True)  # noqa: SLF001 - Django's Redis client
    pipe = client.pipeline(transaction=False)
    pipe.mget(full[:-1])
    pipe.incr(full[-1])
    pipe.expire(full[-1], timeout)
    older, mine, _ = pipe.execute()
    return [int(v) if v is not None else 0 for v in older] + [int(mine)]


def reset(name: str, key: str, *, period: float, now: float | None = None) -> None:
    now = time.time() if now is None else now
    keys, _current, _width = _slice_keys(name, key, period, now)
    try:
        cache.delete_many(keys)
    except Exception as error:  # noqa: BLE001 - nothing to reset in a cache that is down
        logger.warning("rate limit not reset (%s): the cache is unavailable (%s)", name, error)


def client_address(request) -> str:
    """The caller's address: REMOTE_ADDR, or the last X-Forwarded-For entry when the park sits
    behind its own proxy (``TRUSTED_PROXY=1``; that entry is the one the proxy added)."""
    if getattr(settings, "TRUSTED_PROXY", False):
        forwarded = request.META.get("HTTP_X_FORWARDED_FOR", "")
        parts = [p.strip() for p in forwarded.split(",") if p.strip()]
        if parts:
            return parts[-1][:64]
    return (request.META.get("REMOTE_ADDR") or "unknown")[:64]
