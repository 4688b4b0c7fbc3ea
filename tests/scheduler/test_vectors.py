"""GPU nodes as vectors (GPUs, CPUs, memory): capacity holds in every dimension."""

import json

import pytest

from scheduler import (
    Problem,
    ProblemError,
    Request,
    Resource,
    Tenant,
    problem_from_json,
    problem_to_json,
    solve,
    validate,
)
from scheduler.plan import Assignment, Plan
from scheduler.problem import GPU_NODE


def drf_example(memory: int = 18, cpus: int = 9) -> Problem:
    """Ghodsi et al. (NSDI 2011): one node of 9 CPUs and 18 GB; A's tasks ask <1 CPU, 4 GB>,
    B's <3 CPUs, 1 GB> (one GPU each here, the node has 8)."""
    node = Resource("node", GPU_NODE, capacity=8, resource_class="gpu", cpus=cpus, memory=memory)
    tasks = [Request(f"a{i}", "A", "a", ("node",), 1, 0, 1, cpus=1, memory=4) for i in range(6)] + [
        Request(f"b{i}", "B", "b", ("node",), 1, 0, 1, cpus=3, memory=1) for i in range(6)
    ]
    return Problem(horizon=1, resources=(node,), tenants=(Tenant("A"), Tenant("B")), requests=tasks)


def tasks_of(plan: Plan, tenant: str) -> int:
    return sum(a.granted and a.request.startswith(tenant) for a in plan.assignments.values())


def test_the_drf_example_gets_the_papers_answer():
    problem = drf_example()
    plan = solve(problem, time_limit=5)
    assert (tasks_of(plan, "a"), tasks_of(plan, "b")) == (3, 2)
    assert validate(problem, plan).ok
    # Counting GPUs only, the same round is shared four and four.
    gpus_only = solve(drf_example(memory=0, cpus=0), time_limit=5)
    assert (tasks_of(gpus_only, "a"), tasks_of(gpus_only, "b")) == (4, 4)


def test_memory_alone_limits_a_node():
    problem = drf_example()
    alone = problem.replace(
        tenants=(Tenant("A"),), requests=[q for q in problem.requests if q.tenant == "A"]
    )
    plan = solve(alone, time_limit=5)
    assert tasks_of(plan, "a") == 4  # 4 x 4 GB of 18 GB; CPUs and GPUs would allow 6
    assert validate(alone, plan).ok


@pytest.mark.parametrize("planner", ["greedy", "fcfs"])
def test_every_planner_keeps_memory_and_cpus(planner):
    problem = drf_example()
    plan = solve(problem, planner=planner)
    assert validate(problem, plan).ok
    granted = [problem.request_by_id[r] for r in plan.granted_ids()]
    assert sum(q.memory for q in granted) <= 18 and sum(q.cpus for q in granted) <= 9


def test_the_validator_reports_a_node_planned_beyond_its_memory():
    problem = drf_example()
    # What counting GPUs only gave: A 6 tasks and B 1, 25 GB on an 18 GB node.
    plan = Plan(
        {
            q.id: Assignment(q.id, True, ("node",), 0, 1)
            for q in problem.requests
            if q.id.startswith("a") or q.id == "b0"
        }
    )
    report = validate(problem, plan)
    assert "node: 25 memory used in slot 0, capacity 18" in report.violations


def test_a_request_asking_more_memory_than_any_candidate_has_is_refused():
    problem = drf_example()
    big = problem.replace(requests=(Request("huge", "A", "a", ("node",), 1, 0, 1, memory=32),))
    with pytest.raises(ProblemError) as err:
        solve(big)
    assert (err.value.code, err.value.field) == ("bad_units", "requests[huge].memory")


def test_vectors_survive_the_json_format():
    problem = drf_example()
    back = problem_from_json(json.loads(problem_to_json(problem)))
    assert (back.resources[0].cpus, back.resources[0].memory) == (9, 18)
    assert (back.requests[0].cpus, back.requests[0].memory) == (1, 4)
