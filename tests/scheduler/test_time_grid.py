"""One time grid per resource: bookings start and end on each resource's own slots."""

import json

import pytest

from scheduler import (
    Cancellation,
    Problem,
    ProblemError,
    Request,
    Resource,
    Tenant,
    problem_from_json,
    problem_to_json,
    replan,
    solve,
    validate,
)
from scheduler.plan import Assignment, Plan
from scheduler.problem import GPU_NODE


def half_hour_round(*requests, **node):
    """A round in 30-minute slots with a GPU node booked on the hour (unless told otherwise)."""
    node.setdefault("slot_minutes", 60)
    return Problem(
        horizon=16,
        slot_minutes=30,
        resources=(Resource("gpu", GPU_NODE, capacity=4, **node),),
        tenants=(Tenant("acme"), Tenant("beta")),
        requests=requests,
    )


@pytest.mark.parametrize("planner", ["cpsat", "greedy", "fcfs"])
def test_a_job_on_an_hourly_node_starts_on_the_hour(planner):
    problem = half_hour_round(Request("job", "acme", "a", ("gpu",), 2, 1, 16, units=4))
    plan = solve(problem, planner=planner, time_limit=2)
    assert plan.assignments["job"].start == 2  # not the half hour at slot 1
    assert validate(problem, plan).ok
    anytime = half_hour_round(Request("job", "acme", "a", ("gpu",), 2, 1, 16), slot_minutes=None)
    assert solve(anytime, planner=planner, time_limit=2).assignments["job"].start == 1


def test_an_offset_grid_starts_at_half_past():
    problem = half_hour_round(Request("job", "acme", "a", ("gpu",), 2, 0, 16), slot_offset=30)
    plan = solve(problem, time_limit=2)
    assert plan.assignments["job"].start == 1
    assert validate(problem, plan).ok


def test_a_duration_off_every_grid_is_refused_and_another_candidate_is_used():
    problem = half_hour_round(Request("job", "acme", "a", ("gpu",), 3, 0, 16))
    plan = solve(problem, time_limit=2)
    assert plan.assignments["job"].reason == "no_feasible_start"
    assert plan.assignments["job"].params["off_grid"] is True
    other = Resource("gpu-b", GPU_NODE, capacity=4)  # on the round's 30-minute grid
    both = problem.replace(
        resources=(*problem.resources, other),
        requests=(Request("job", "acme", "a", ("gpu", "gpu-b"), 3, 0, 16),),
    )
    plan = solve(both, time_limit=2)
    assert plan.assignments["job"].resources == ("gpu-b",)


def test_the_validator_reports_a_booking_off_its_resource_grid():
    problem = half_hour_round(Request("job", "acme", "a", ("gpu",), 2, 0, 16))
    plan = Plan({"job": Assignment("job", True, ("gpu",), 1, 3)})
    report = validate(problem, plan)
    assert any("off its time grid" in v for v in report.violations)


def test_a_replan_keeps_each_resource_grid():
    problem = half_hour_round(
        Request("big", "beta", "b", ("gpu",), 4, 0, 6, units=4),
        Request("job", "acme", "a", ("gpu",), 2, 1, 8, units=4),
    )
    published = Plan(
        {
            "big": Assignment("big", True, ("gpu",), 0, 4),
            "job": Assignment("job", False, reason="capacity_full"),
        }
    )
    out = replan(problem, published, Cancellation("big"))
    assert out.plan.assignments["job"].start == 2
    assert validate(out.problem, out.plan).ok


def test_a_grid_must_be_a_multiple_of_the_round_slot():
    problem = half_hour_round(Request("job", "acme", "a", ("gpu",), 2, 0, 16), slot_minutes=45)
    with pytest.raises(ProblemError) as err:
        solve(problem)
    assert err.value.code == "bad_slot"
    assert err.value.field == "resources[gpu].slot_minutes"


def test_the_new_format_keeps_the_grid_and_the_old_one_still_reads():
    problem = half_hour_round(Request("job", "acme", "a", ("gpu",), 2, 0, 16), slot_offset=30)
    doc = json.loads(problem_to_json(problem))
    assert doc["format"] == "park-booking/problem@2"
    back = problem_from_json(doc)
    assert (back.resources[0].slot_minutes, back.resources[0].slot_offset) == (60, 30)
    old = dict(doc, format="park-booking/problem@1")
    new_fields = ("slot_minutes", "slot_offset", "cpus", "memory")
    old["resources"] = [
        {k: v for k, v in r.items() if k not in new_fields} for r in doc["resources"]
    ]
    old["requests"] = [{k: v for k, v in q.items() if k not in new_fields} for q in doc["requests"]]
    assert problem_from_json(old).resources[0].slot_minutes is None
    old["resources"][0]["slot_minutes"] = 60
    with pytest.raises(ProblemError) as err:
        problem_from_json(old)
    assert err.value.code == "unknown_field"
