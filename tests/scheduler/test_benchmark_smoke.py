"""The benchmark's smoke mode runs end to end and every plan it prints is valid."""

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.slow
def test_the_benchmark_smoke_mode_runs_and_all_plans_are_valid():
    out = subprocess.run(
        [sys.executable, "benchmarks/bench_scheduler.py", "--smoke"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert out.returncode == 0, out.stdout + out.stderr
    # The table's rows start with the instance size; the load average lines and the header do not.
    rows = [line.split() for line in out.stdout.splitlines() if line.split()[:1] == ["200"]]
    assert {"fcfs", "greedy", "cpsat"} <= {row[3] for row in rows}
    assert rows and all(row[-1] == "True" for row in rows)
    assert "load average at start" in out.stdout
