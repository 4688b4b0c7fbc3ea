"""Property tests on small random rounds: every plan is valid, hard rules hold, fairness is exact."""

import itertools

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from scheduler import Request, Tenant, solve, validate
from scheduler.analysis import prepare
from scheduler.fairness import fair_level

from .factories import small_problem, tiny_problem

FAST = settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow], derandomize=True
)
seeds = st.integers(min_value=0, max_value=10**6)


@FAST
@given(seed=seeds, planner=st.sampled_from(["cpsat", "greedy", "fcfs"]))
def test_the_validator_accepts_every_plan_a_planner_returns(seed, planner):
    problem = small_problem(seed)
    plan = solve(problem, planner=planner, time_limit=2, workers=1)
    report = validate(problem, plan)
    assert report.ok, report.violations
    assert set(plan.assignments) == {q.id for q in problem.requests}
    for a in plan.assignments.values():
        assert a.reason and a.reason_text


@FAST
@given(seed=seeds)
def test_hard_rules_hold_in_cpsat_plans(seed):
    """Checked here directly, not only through the validator."""
    problem = small_problem(seed, n_requests=12)
    plan = solve(problem, time_limit=2, workers=1)
    reqs, res = problem.request_by_id, problem.resource_by_id
    granted = {rid: a for rid, a in plan.assignments.items() if a.granted}
    # capacity
    for r in problem.resources:
        for slot in range(problem.horizon):
            used = sum(
                reqs[rid].units
                for rid, a in granted.items()
                if r.id in a.resources and a.start <= slot < a.end
            )
            assert used <= r.capacity
    # changeovers
    runs = sorted(
        (a.start, a.end, reqs[rid].recipe) for rid, a in granted.items() if "line" in a.resources
    )
    for (_, e1, r1), (s2, _, r2) in zip(runs, runs[1:], strict=False):
        assert s2 >= e1 + res["line"].changeover(r1, r2)
    # training: nobody is granted an instrument without training covering the booking
    for rid, a in granted.items():
        for r_id in a.resources:
            need = res[r_id].required_training
            if need:
                assert any(
                    t.user == reqs[rid].user
                    and t.training == need
                    and t.valid_from <= a.start
                    and a.end <= t.valid_until
                    for t in problem.trainings
                )
    # chains: all or nothing
    chains = {}
    for q in problem.requests:
        if q.chain:
            chains.setdefault(q.chain, []).append(q.id in granted)
    for flags in chains.values():
        assert all(flags) or not any(flags)
    # quotas
    for t in problem.tenants:
        for c, quota in t.quotas:
            used = sum(
                reqs[rid].usage
                for rid in granted
                if reqs[rid].tenant == t.id and res[reqs[rid].resources[0]].resource_class == c
            )
            assert used <= quota


@FAST
@given(seed=seeds)
def test_an_untrained_user_is_never_granted(seed):
    problem = small_problem(seed)
    trained = {t.user for t in problem.trainings}
    for planner in ("cpsat", "greedy", "fcfs"):
        plan = solve(problem, planner=planner, time_limit=2, workers=1)
        for q in problem.requests:
            needs = {problem.resource_by_id[r].required_training for r in q.resources}
            if q.user not in trained and needs != {None}:
                a = plan.assignments[q.id]
                assert not a.granted
                assert a.reason in ("no_valid_training", "chain_unplaceable")


@FAST
@given(seed=seeds)
def test_a_tenant_with_no_demand_changes_nothing(seed):
    problem = small_problem(seed)
    bigger = problem.replace(tenants=problem.tenants + (Tenant("idle", weight=7),))
    for planner in ("greedy", "cpsat"):
        a = solve(problem, planner=planner, time_limit=2, workers=1)
        b = solve(bigger, planner=planner, time_limit=2, workers=1)
        assert {r: a.outcome(r) for r in a.assignments} == {r: b.outcome(r) for r in b.assignments}
        assert a.figures == b.figures


def _brute_force_floor(problem):
    """Best fair level over every possible plan (only for tiny problems)."""
    prep = prepare(problem)
    options = []
    for q in problem.requests:
        opts = [None]
        for rid, ranges in prep.starts[q.id].items():
            for lo, hi in ranges:
                opts += [((rid,), s) for s in range(lo, hi + 1)]
        options.append(opts)
    best = 0.0
    for combo in itertools.product(*options):
        load = {}
        granted = {}
        ok = True
        for q, choice in zip(problem.requests, combo, strict=True):
            if choice is None:
                continue
            (rid,), s = choice
            cap = problem.resource_by_id[rid].capacity
            for slot in range(s, s + q.duration):
                load[rid, slot] = load.get((rid, slot), 0) + q.units
                if load[rid, slot] > cap:
                    ok = False
            key = (q.tenant, prep.klass[q.id])
            granted[key] = granted.get(key, 0) + q.usage
        for t in problem.tenants:
            for c, quota in t.quotas:
                if granted.get((t.id, c), 0) > quota:
                    ok = False
        if ok:
            best = max(best, fair_level(prep, granted))
    return best


@settings(max_examples=30, deadline=None, derandomize=True)
@given(seed=seeds)
def test_on_tiny_problems_the_floor_equals_the_brute_force_optimum(seed):
    problem = tiny_problem(seed)
    plan = solve(problem, time_limit=5, workers=1)
    assert plan.status == "optimal"
    assert abs(plan.figures["floor"] - _brute_force_floor(problem)) < 1e-3


def test_adding_a_request_nobody_can_use_changes_no_grant():
    problem = small_problem(7)
    extra = Request("ghost", problem.tenants[0].id, "nobody", ("lab1",), 2, 0, 16)
    more = problem.replace(requests=problem.requests + (extra,))
    a = solve(problem, planner="greedy")
    b = solve(more, planner="greedy")
    assert b.assignments["ghost"].reason == "no_valid_training"
    assert all(a.outcome(r) == b.outcome(r) for r in a.assignments)


@settings(max_examples=25, deadline=None, derandomize=True)
@given(seed=seeds)
def test_the_neighbourhood_bound_never_cuts_below_the_true_optimum(seed):
    import time

    from scheduler.decompose import neighbourhood_bound
    from scheduler.greedy import greedy_placements

    problem = tiny_problem(seed)
    prep = prepare(problem)
    bound = neighbourhood_bound(
        prep,
        greedy_placements(prep),
        deadline=time.perf_counter() + 5,
        workers=1,
        seed=0,
        size=2,
    )
    if bound is not None:
        assert bound >= _brute_force_floor(problem) - 1e-9
