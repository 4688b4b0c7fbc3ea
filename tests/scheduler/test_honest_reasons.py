"""Reasons tell the truth: "moved" only when the earlier time was taken; figures in hours."""

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from scheduler import Problem, Request, Resource, Tenant, solve, validate
from scheduler.plan import Assignment, Plan
from scheduler.problem import GPU_NODE, LAB_INSTRUMENT

from .factories import small_problem


def scope_round(*requests):
    return Problem(
        horizon=12,
        resources=(Resource("scope", LAB_INSTRUMENT, resource_class="lab"),),
        tenants=(Tenant("acme"), Tenant("beta")),
        requests=requests,
    )


def test_the_validator_reports_a_needless_delay():
    problem = scope_round(Request("scan", "acme", "a", ("scope",), 2, 0, 12))
    late = Plan({"scan": Assignment("scan", True, ("scope",), 5, 7)})
    report = validate(problem, late)
    assert report.ok  # no rule is broken...
    assert report.delays == [
        "scan: starts at 5 but could start at 0 on scope with nothing else changed"
    ]


def test_moved_means_the_earlier_time_was_taken():
    problem = scope_round(
        Request("first", "acme", "a", ("scope",), 4, 0, 12, priority=1),
        Request("second", "acme", "a", ("scope",), 2, 0, 12),
    )
    plan = solve(problem, time_limit=2)
    moved = [a for a in plan.assignments.values() if a.reason == "moved"]
    assert len(moved) == 1 and moved[0].params["asked"] == 0
    assert "later than asked" in moved[0].reason_text
    assert validate(problem, plan).delays == []


def test_a_quota_reason_names_the_class_and_counts_in_hours():
    problem = Problem(
        horizon=16,
        slot_minutes=30,
        resources=(Resource("g", GPU_NODE, capacity=2, resource_class="gpu"),),
        tenants=(Tenant("acme", quotas={"gpu": 8}),),
        requests=(
            Request("a", "acme", "u", ("g",), 4, 0, 16, units=2, priority=1),
            Request("b", "acme", "u", ("g",), 2, 0, 16, units=2),
        ),
    )
    plan = solve(problem, time_limit=2)
    refused = plan.assignments["b"]
    assert refused.reason == "quota_exhausted"
    assert refused.params["resource_class"] == "gpu"
    assert (refused.params["quota_hours"], refused.params["used_hours"]) == (4.0, 4.0)
    assert refused.params["need_hours"] == 2.0
    assert "gpu in this round (4.0 h)" in refused.reason_text


@settings(
    max_examples=20, deadline=None, suppress_health_check=[HealthCheck.too_slow], derandomize=True
)
@given(seed=st.integers(0, 10**6), planner=st.sampled_from(["cpsat", "greedy", "fcfs"]))
def test_no_plan_delays_a_request_needlessly(seed, planner):
    problem = small_problem(seed, n_requests=12)
    plan = solve(problem, planner=planner, time_limit=1, workers=1)
    report = validate(problem, plan)
    assert report.ok, report.violations
    assert report.delays == []
