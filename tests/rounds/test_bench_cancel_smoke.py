"""The cancel benchmark runs end to end on a small round (the full run prints the figures)."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[2] / "benchmarks" / "bench_cancel.py"


@pytest.mark.slow
def test_cancel_benchmark_smoke_run_queues_every_re_plan_and_promotes(db):
    spec = importlib.util.spec_from_file_location("bench_cancel", BENCH)
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    setup = bench.build_round(waitlist=10, resources=2)
    result = bench.measure(setup, runs=5, replans=1)
    assert result["failed"] == 0 and len(result["cancel"]) == 5
    # The freed time went to the waitlist (queued re-plans, or the one timed apart).
    assert result["waiting_after"] < 10
    text = bench.report(result, vendor="sqlite", waitlist=10)
    assert "p99" in text and "re-plan" in text
