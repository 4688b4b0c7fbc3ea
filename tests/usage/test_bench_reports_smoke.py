"""The reports benchmark runs end to end on a tiny park (the full run prints the figures)."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[2] / "benchmarks" / "bench_reports.py"


@pytest.mark.slow
def test_reports_benchmark_smoke_run_renders_every_grouping(db):
    spec = importlib.util.spec_from_file_location("bench_reports", BENCH)
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    park = bench.build(resources=10, tenants=5, bookings=300)
    assert 0 < park["closed"] < park["bookings"] == 300
    times = bench.measure(runs=1)
    assert set(times) == set(bench.GROUPS) and all(len(v) == 1 for v in times.values())
    assert "median" in bench.report(times, vendor="sqlite", park=park)
