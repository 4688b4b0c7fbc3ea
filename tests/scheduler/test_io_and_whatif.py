"""JSON round trips, the command line, datetime/slot conversion and what-if."""

import json
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

from scheduler import (
    Problem,
    Request,
    Resource,
    Tenant,
    plan_from_json,
    plan_to_json,
    problem_from_json,
    problem_to_json,
    solve,
    to_datetime,
    to_slot,
    validate,
    what_if,
    window_to_slots,
)
from scheduler.generator import generate
from scheduler.problem import LAB_INSTRUMENT

from .factories import small_problem

ROOT = Path(__file__).resolve().parents[2]


def test_a_problem_survives_a_json_round_trip():
    problem = generate(60, 8, 8, seed=2).replace(round_start=datetime(2026, 11, 30, tzinfo=UTC))
    again = problem_from_json(problem_to_json(problem))
    assert again == problem
    assert problem_from_json(json.loads(problem_to_json(problem))) == problem


def test_a_plan_survives_a_json_round_trip_and_still_validates():
    problem = small_problem(3)
    plan = solve(problem, time_limit=2)
    again = plan_from_json(plan_to_json(plan))
    assert again.assignments == plan.assignments
    assert again.status == plan.status
    assert validate(problem, again).ok


def test_the_command_line_solves_and_validates(tmp_path):
    problem_file = tmp_path / "problem.json"
    plan_file = tmp_path / "plan.json"
    problem_file.write_text(problem_to_json(small_problem(5)))
    run = [sys.executable, "-m", "scheduler"]
    out = subprocess.run(
        [*run, "solve", str(problem_file), "--time-limit", "2", "--out", str(plan_file)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    )
    assert '"status"' in out.stdout
    ok = subprocess.run(
        [*run, "validate", str(problem_file), str(plan_file)],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    assert ok.returncode == 0 and json.loads(ok.stdout)["ok"] is True

    doc = json.loads(plan_file.read_text())
    granted = [a for a in doc["assignments"] if a["granted"]]
    granted[0]["start"] -= 100  # push a booking out of its window
    granted[0]["end"] -= 100
    plan_file.write_text(json.dumps(doc))
    bad = subprocess.run(
        [*run, "validate", str(problem_file), str(plan_file)],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    assert bad.returncode == 1 and json.loads(bad.stdout)["violations"]

    problem_file.write_text(
        '{"horizon": 4, "tenants": [{"id": "t"}], "resources": [], '
        '"requests": [{"id": "r", "tenant": "t", "user": "u", '
        '"resources": ["nope"], "duration": 1, "earliest": 0, "deadline": 4}]}'
    )
    refused = subprocess.run(
        [*run, "solve", str(problem_file)], cwd=ROOT, capture_output=True, text=True
    )
    assert refused.returncode == 2 and "unknown_resource" in refused.stderr


def test_datetimes_convert_to_slots_without_growing_the_window():
    start = datetime(2026, 11, 30, 0, 0, tzinfo=UTC)
    assert to_slot(datetime(2026, 11, 30, 10, 0, tzinfo=UTC), start, 60, round_up=True) == 10
    assert window_to_slots(
        datetime(2026, 11, 30, 9, 15, tzinfo=UTC),
        datetime(2026, 11, 30, 12, 45, tzinfo=UTC),
        start,
        30,
    ) == (19, 25)
    assert to_datetime(19, start, 30) == datetime(2026, 11, 30, 9, 30, tzinfo=UTC)


def test_what_if_lists_the_requests_whose_outcome_changes():
    lab = Resource("lab", LAB_INSTRUMENT)
    reqs = tuple(Request(f"a{i}", "a", "u", ("lab",), 2, 0, 8) for i in range(4)) + tuple(
        Request(f"b{i}", "b", "v", ("lab",), 2, 0, 8) for i in range(4)
    )
    problem = Problem(8, (lab,), (Tenant("a"), Tenant("b")), reqs)
    result = what_if(problem, weights={"a": 3}, planner="greedy")
    granted = lambda plan, t: sum(  # noqa: E731
        1 for a in plan.assignments.values() if a.granted and a.request.startswith(t)
    )
    assert (granted(result.base, "a"), granted(result.base, "b")) == (2, 2)
    assert (granted(result.changed, "a"), granted(result.changed, "b")) == (3, 1)
    changed_ids = {c.request for c in result.changes}
    assert any(r.startswith("a") for r in changed_ids) and any(
        r.startswith("b") for r in changed_ids
    )

    capped = what_if(problem, quotas={"b": {"lab_instrument": 2}}, planner="greedy")
    assert granted(capped.changed, "b") == 1
