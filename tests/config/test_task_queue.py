"""The task queue really carries work through a consumer on both storages the park supports:
huey's SQLite file (the default) and Redis (when REDIS_URL is set)."""

import os
import time

import pytest
from huey import RedisHuey, SqliteHuey
from huey.consumer import Consumer

from tests.conftest import require_or_skip


def _round_trip(huey) -> list[int]:
    @huey.task()
    def add(a, b):
        return a + b

    results = [add(i, i) for i in range(5)]
    consumer = Consumer(
        huey, workers=2, worker_type="thread", periodic=False, check_worker_health=False
    )
    # The consumer's worker threads do the work; its signal handlers belong to a real process only.
    consumer._set_signal_handlers = lambda: None
    consumer.start()
    try:
        return [r.get(blocking=True, timeout=10) for r in results]
    finally:
        consumer.stop(graceful=True)


@pytest.mark.slow
def test_sqlite_storage_runs_tasks_through_a_consumer(tmp_path):
    huey = SqliteHuey(name="park-test", filename=str(tmp_path / "huey.sqlite3"))
    assert _round_trip(huey) == [0, 2, 4, 6, 8]


@pytest.mark.slow
def test_redis_storage_runs_tasks_through_a_consumer():
    url = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/15")
    huey = RedisHuey(name=f"park-test-{time.time_ns()}", url=url)
    try:
        huey.storage.conn.ping()
    except Exception as error:  # noqa: BLE001 - any connection failure means "no Redis here"
        require_or_skip(f"Redis not reachable at {url}: {error}")
    try:
        assert _round_trip(huey) == [0, 2, 4, 6, 8]
    finally:
        huey.flush()


def test_settings_choose_redis_when_redis_url_is_set(tmp_path):
    import subprocess
    import sys

    code = "from django.conf import settings; print(settings.HUEY['huey_class'])"
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "config.settings", "PARK_VAR_DIR": str(tmp_path)}
    env.pop("REDIS_URL", None)
    default = subprocess.run(
        [sys.executable, "-c", "import django; django.setup(); " + code],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    env["REDIS_URL"] = "redis://127.0.0.1:6379/3"
    redis = subprocess.run(
        [sys.executable, "-c", "import django; django.setup(); " + code],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    assert (default, redis) == ("huey.SqliteHuey", "huey.RedisHuey")
