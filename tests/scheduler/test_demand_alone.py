"""Demand alone is solved, not greedy: a request that fits next to the tenant's others counts."""

from scheduler import Problem, Request, Resource, Tenant, solve, validate
from scheduler.analysis import prepare
from scheduler.problem import LAB_INSTRUMENT


def test_demand_alone_counts_a_request_the_greedy_order_would_drop():
    # Placed most important first at its earliest start, "short" takes slot 0 and "long" (which
    # only fits in [0, 2)) is dropped; alone, the tenant can have both: long, then short.
    problem = Problem(
        horizon=6,
        resources=(Resource("scope", LAB_INSTRUMENT, resource_class="lab"),),
        tenants=(Tenant("acme"), Tenant("beta")),
        requests=(
            Request("short", "acme", "a", ("scope",), 1, 0, 3, priority=1),
            Request("long", "acme", "a", ("scope",), 2, 0, 2),
            Request("other", "beta", "b", ("scope",), 3, 3, 6),
        ),
    )
    prep = prepare(problem)
    assert prep.demand[("acme", "lab")] == 3
    assert prep.demand_set[("acme", "lab")] == {"short", "long"}
    plan = solve(problem, time_limit=2)
    assert plan.assignments["long"].granted and plan.assignments["short"].granted
    report = validate(problem, plan)
    assert report.ok and report.figures.floor == report.figures.floor_cap
