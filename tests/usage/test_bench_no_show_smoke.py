"""The no-show benchmark runs end to end on a small park (the full run prints the figures)."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[2] / "benchmarks" / "bench_no_show.py"


@pytest.mark.slow
def test_no_show_benchmark_smoke_run_releases_every_due_booking_and_nothing_else(db):
    spec = importlib.util.spec_from_file_location("bench_no_show", BENCH)
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    park = bench.build(due=120, resources=10, tenants=5)
    result = bench.measure(park)
    assert result["released"] == 120
    assert result["left_alone"] == 120
    assert result["mails"] == 240  # owner and manager of each
    assert result["sweep_queries"] < 40  # batches, not a statement per booking
    assert "target" in bench.report(result, vendor="sqlite", due=120)
