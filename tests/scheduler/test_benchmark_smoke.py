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
    lines = [line for line in out.stdout.splitlines() if line.strip()]
    assert {"fcfs", "greedy", "cpsat"} <= {line.split()[3] for line in lines[1:]}
    assert all(line.split()[-1] == "True" for line in lines[1:])
