"""The time limit is a ceiling: a round whose stages are all proven answers at once."""

from scheduler import Problem, Request, Resource, Tenant, solve, validate
from scheduler.problem import GPU_NODE


def one_slot_round() -> Problem:
    """12 requests for one slot of one GPU node: CP-SAT proves every stage in milliseconds."""
    return Problem(
        horizon=1,
        resources=(Resource("g", GPU_NODE, capacity=8),),
        tenants=tuple(Tenant(f"t{i}") for i in range(3)),
        requests=tuple(
            Request(f"q{i}", f"t{i % 3}", "u", ("g",), 1, 0, 1, units=1 + i % 4) for i in range(12)
        ),
    )


def test_a_trivial_round_stops_when_proven_not_at_the_time_limit():
    problem = one_slot_round()
    plan = solve(problem, time_limit=10)
    assert plan.status == "optimal"
    assert all(st["status"] == "optimal" for st in plan.stages)
    # Measured about 0.2 s (benchmarks/bench_replan.py --trivial); far below the 10 s limit.
    assert plan.wall_time < 3.0
    assert validate(problem, plan).ok
    assert plan.figures["granted_usage"] == 8
