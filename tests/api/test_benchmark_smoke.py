"""The API benchmark runs end to end on a tiny park (gunicorn + wrk, a few seconds)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from django.conf import settings

from tests.conftest import require_or_skip

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.slow
def test_api_benchmark_smoke_run_prints_the_table():
    if shutil.which("wrk") is None:
        require_or_skip("wrk is not installed (apt-get install -y wrk)")
    env = dict(os.environ)
    # The benchmark builds its own database on the same server the suite runs on.
    db = settings.DATABASES["default"]
    if db["ENGINE"].endswith("postgresql"):
        auth = db["USER"] + (f":{db['PASSWORD']}" if db["PASSWORD"] else "")
        env["DATABASE_URL"] = (
            f"postgres://{auth}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/park"
        )
    else:
        env.pop("DATABASE_URL", None)
    result = subprocess.run(
        [sys.executable, "benchmarks/bench_api.py", "--smoke"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    for row in ("ceiling (constant view)", "availability (1 week)", "booking creation"):
        assert row in result.stdout
    assert "availability / ceiling throughput" in result.stdout
