"""The reminder benchmark runs end to end on a small park (the full run prints the figures)."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[2] / "benchmarks" / "bench_reminders.py"


@pytest.mark.slow
def test_reminder_benchmark_smoke_run_sends_each_notice_once_in_few_statements(db):
    spec = importlib.util.spec_from_file_location("bench_reminders", BENCH)
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    park = bench.build(users=150, bookings=600, resources=10)
    result = bench.measure(park)
    assert result["notices"] > 150 and result["mails"] > 0
    assert result["again_notices"] == 0 and result["again_mails"] == 0
    assert result["find_sql"] < 40  # windows, not a query per user or booking
    assert "second tick" in bench.report(result, vendor="sqlite", users=150, bookings=600)
