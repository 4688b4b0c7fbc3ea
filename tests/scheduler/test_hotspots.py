"""The second generator makes rounds unlike the first: hot-spot lines, long chains, mixed grids."""

from collections import Counter

from scheduler import check_problem, solve, validate
from scheduler.analysis import EXACT_CHANGEOVER_LIMIT
from scheduler.hotspots import generate_hotspots


def test_it_is_deterministic_and_shaped_as_it_says():
    a, b = generate_hotspots(2000, seed=3), generate_hotspots(2000, seed=3)
    assert a == b
    check_problem(a)
    runs = Counter(rid for q in a.requests for rid in q.resources if rid.startswith("hot-line"))
    assert min(runs.values()) > EXACT_CHANGEOVER_LIMIT  # more runs than one model sequences
    chains = Counter(q.chain for q in a.requests if q.chain)
    assert max(chains.values()) >= 4
    grids = {a.grid(r)[0] for r in a.resources}
    assert grids == {1, 2, 4}
    asked = Counter(q.tenant for q in a.requests)
    top = sum(n for _t, n in asked.most_common(len(asked) // 10))
    assert top > 0.3 * len(a.requests)  # heavy-tailed: a tenth of the tenants ask a third


def test_plans_of_its_rounds_are_valid():
    problem = generate_hotspots(200, seed=1)
    for planner in ("fcfs", "cpsat"):
        plan = solve(problem, planner=planner, time_limit=3)
        report = validate(problem, plan)
        assert report.ok, report.violations[:5]
