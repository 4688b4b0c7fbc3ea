"""The statements benchmark runs end to end on a tiny park (the full run prints the figures)."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[2] / "benchmarks" / "bench_statements.py"


@pytest.mark.slow
def test_statements_benchmark_smoke_run_closes_every_tenant(db):
    spec = importlib.util.spec_from_file_location("bench_statements", BENCH)
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    park = bench.build(tenants=3, per_tenant=100, jobs_per_tenant=5)
    assert park == {"tenants": 3, "records": 300}
    figures = bench.measure()
    assert figures["closed"] == figures["final"] == 3
    assert figures["lines"] > 0 and not figures["mismatched"]
    assert figures["total"] == figures["lines_total"] > 0
    assert "target" in bench.report(figures, vendor="sqlite", park=park, build_seconds=1.0)
