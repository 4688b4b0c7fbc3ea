"""The page benchmark runs end to end on a tiny park (the full run is `make bench`)."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[2] / "benchmarks" / "bench_booking_pages.py"


@pytest.mark.slow
def test_page_benchmark_smoke_run_books_every_slot_with_a_constant_query_count(db):
    spec = importlib.util.spec_from_file_location("bench_booking_pages", BENCH)
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    park = bench.build_park(resources=10, tenants=5, bookings=500)
    result = bench.measure(park, runs=15)
    assert result["refused"] == 0
    assert len(result["week"]) == 15 and len(result["submit"]) == 15
    # One count per resource kind at most: the data never changes it.
    assert len(result["week_queries"]) <= 2 and len(result["submit_queries"]) <= 3
    text = bench.report(result, vendor="sqlite", park=park)
    assert "median" in text and "p99" in text
