"""Each hard rule and the fairness contract on small hand-made rounds."""

from dataclasses import replace

from scheduler import (
    FAIRNESS_CONTRACT,
    REASON_TEXTS,
    Problem,
    Request,
    Resource,
    Tenant,
    Training,
    solve,
    validate,
)
from scheduler.plan import Assignment
from scheduler.problem import GPU_NODE, LAB_INSTRUMENT, PILOT_LINE

PLANNERS = ("cpsat", "greedy", "fcfs")


def _solve_all(problem):
    out = {}
    for planner in PLANNERS:
        plan = solve(problem, planner=planner, time_limit=5)
        report = validate(problem, plan)
        assert report.ok, (planner, report.violations)
        out[planner] = plan
    return out


def test_it_never_grants_a_user_without_valid_training():
    lab = Resource("confocal", LAB_INSTRUMENT, required_training="confocal")
    problem = Problem(
        24,
        (lab,),
        (Tenant("acme"),),
        (
            Request("untrained", "acme", "bob", ("confocal",), 2, 0, 24),
            Request("expires", "acme", "carol", ("confocal",), 4, 10, 24),
            Request("trained", "acme", "alice", ("confocal",), 2, 0, 24),
        ),
        (Training("alice", "confocal", 0, 100), Training("carol", "confocal", 0, 12)),
    )
    for plan in _solve_all(problem).values():
        assert plan.assignments["trained"].granted
        for rid in ("untrained", "expires"):
            a = plan.assignments[rid]
            assert not a.granted
            assert a.reason == "no_valid_training"
            assert "training" in a.reason_text


def test_a_chain_is_granted_whole_or_not_at_all():
    line = Resource("line", PILOT_LINE, recipes=("SiC",), open_periods=((0, 10),))
    metro = Resource("metro", LAB_INSTRUMENT, open_periods=((14, 20),))
    tenants = (Tenant("acme"),)
    ok_chain = (
        Request("run", "acme", "u", ("line",), 4, 0, 10, recipe="SiC", chain="c", chain_step=0),
        Request("measure", "acme", "u", ("metro",), 2, 0, 20, chain="c", chain_step=1, max_gap=8),
    )
    plans = _solve_all(Problem(20, (line, metro), tenants, ok_chain))
    for plan in plans.values():
        run, measure = plan.assignments["run"], plan.assignments["measure"]
        assert run.granted and measure.granted
        assert run.end <= measure.start <= run.end + 8

    tight = (ok_chain[0], replace(ok_chain[1], max_gap=2))  # metrology opens too late
    for plan in _solve_all(Problem(20, (line, metro), tenants, tight)).values():
        for rid in ("run", "measure"):
            assert not plan.assignments[rid].granted
            assert plan.assignments[rid].reason == "chain_unplaceable"


def test_changeovers_between_recipes_are_kept():
    line = Resource(
        "line",
        PILOT_LINE,
        recipes=("SiC", "GaN"),
        changeovers=(("SiC", "GaN", 3), ("GaN", "SiC", 5)),
    )
    requests = (
        Request("a", "t1", "u", ("line",), 3, 0, 14, recipe="SiC"),
        Request("b", "t2", "u", ("line",), 3, 0, 14, recipe="GaN"),
        Request("c", "t1", "u", ("line",), 2, 0, 14, recipe="SiC"),
    )
    problem = Problem(14, (line,), (Tenant("t1"), Tenant("t2")), requests)
    for plan in _solve_all(problem).values():
        runs = sorted(
            (a.start, a.end, problem.request_by_id[a.request].recipe)
            for a in plan.assignments.values()
            if a.granted
        )
        for (_, e1, r1), (s2, _, r2) in zip(runs, runs[1:], strict=False):
            assert s2 - e1 >= line.changeover(r1, r2)
    # SiC, SiC then GaN fits exactly: 3 + 2 + 3 changeover + 3 = 11 <= 14.
    assert all(a.granted for a in solve(problem, time_limit=5).assignments.values())

    bad = {
        "a": Assignment("a", True, ("line",), 0, 3),
        "b": Assignment("b", True, ("line",), 4, 7),
    }
    plan = solve(problem, planner="greedy")
    plan.assignments = bad | {"c": Assignment("c", False, reason="capacity_full")}
    report = validate(problem, plan)
    assert not report.ok
    assert any("changeover SiC->GaN needs 3" in v for v in report.violations)


def test_quotas_are_hard_caps_and_refusals_say_so():
    g = Resource("g1", GPU_NODE, capacity=8, resource_class="gpu")
    requests = tuple(Request(f"r{i}", "acme", "u", ("g1",), 3, 0, 24) for i in range(3))
    problem = Problem(24, (g,), (Tenant("acme", quotas={"gpu": 7}),), requests)
    for plan in _solve_all(problem).values():
        granted = [a for a in plan.assignments.values() if a.granted]
        assert len(granted) == 2
        refused = [a for a in plan.assignments.values() if not a.granted]
        assert refused[0].reason == "quota_exhausted"
        assert "quota" in refused[0].reason_text


def test_a_light_tenant_gets_its_fair_share_before_a_heavy_one_gets_more():
    lab = Resource("lc-ms", LAB_INSTRUMENT)
    heavy = tuple(Request(f"h{i}", "heavy", "u", ("lc-ms",), 2, 0, 8) for i in range(5))
    light = (Request("l0", "light", "v", ("lc-ms",), 2, 0, 8),)
    problem = Problem(8, (lab,), (Tenant("heavy"), Tenant("light")), heavy + light)
    plans = _solve_all(problem)
    for planner in ("cpsat", "greedy"):
        plan = plans[planner]
        assert plan.assignments["l0"].granted
        refused = [a for a in plan.assignments.values() if not a.granted]
        assert {a.reason for a in refused} == {"capacity_to_fairer_share"}
        assert "smaller share" in refused[0].reason_text
    # First come, first served hands everything to whoever asked first.
    assert not plans["fcfs"].assignments["l0"].granted


def test_weights_set_the_entitlement():
    g = Resource("g1", GPU_NODE, capacity=4, resource_class="gpu")
    reqs = tuple(Request(f"a{i}", "a", "u", ("g1",), 1, 0, 8, units=4) for i in range(8)) + tuple(
        Request(f"b{i}", "b", "v", ("g1",), 1, 0, 8, units=4) for i in range(8)
    )
    problem = Problem(8, (g,), (Tenant("a", weight=3), Tenant("b", weight=1)), reqs)
    plan = solve(problem, time_limit=5)
    got = {
        t: sum(1 for a in plan.assignments.values() if a.granted and a.request[0] == t)
        for t in "ab"
    }
    assert got == {"a": 6, "b": 2}
    assert plan.figures["floor"] == 1.0
    assert plan.bounds["floor"] >= plan.figures["floor"]


def test_a_gang_uses_whole_nodes_at_the_same_time():
    nodes = tuple(Resource(f"n{i}", GPU_NODE, capacity=8, resource_class="gpu") for i in range(3))
    reqs = (
        Request("gang", "a", "u", ("n0", "n1", "n2"), 4, 0, 12, units=8, nodes=2),
        Request("small", "b", "v", ("n0",), 4, 0, 4, units=2),
    )
    problem = Problem(12, nodes, (Tenant("a"), Tenant("b")), reqs)
    for plan in _solve_all(problem).values():
        gang = plan.assignments["gang"]
        assert gang.granted and len(set(gang.resources)) == 2
        if plan.assignments["small"].granted and "n0" in gang.resources:
            assert gang.start >= 4


def test_opening_hours_and_maintenance_are_respected():
    lab = Resource("seq", LAB_INSTRUMENT, open_periods=((8, 12),), maintenance=((9, 10),))
    reqs = (
        Request("fits", "a", "u", ("seq",), 2, 0, 24),
        Request("never", "a", "u", ("seq",), 2, 0, 9),
    )
    problem = Problem(24, (lab,), (Tenant("a"),), reqs)
    for plan in _solve_all(problem).values():
        assert plan.assignments["fits"].start == 10
        assert plan.assignments["never"].reason == "no_feasible_start"


def test_the_validator_finds_broken_rules_in_an_edited_plan():
    g = Resource("g1", GPU_NODE, capacity=4, resource_class="gpu", maintenance=((6, 8),))
    lab = Resource("lab", LAB_INSTRUMENT, required_training="x")
    reqs = (
        Request("a", "t", "u", ("g1",), 2, 0, 12, units=3),
        Request("b", "t", "u", ("g1",), 2, 0, 12, units=3),
        Request("c", "t", "nobody", ("lab",), 2, 0, 4),
    )
    problem = Problem(12, (g, lab), (Tenant("t", quotas={"gpu": 6}),), reqs)
    plan = solve(problem, planner="greedy")
    plan.assignments = {
        "a": Assignment("a", True, ("g1",), 0, 2),
        "b": Assignment("b", True, ("g1",), 1, 3),
        "c": Assignment("c", True, ("lab",), 3, 5),
    }
    v = " | ".join(validate(problem, plan).violations)
    assert "capacity 4" in v
    assert "outside its window" in v
    assert "no valid x training" in v
    plan.assignments["b"] = Assignment("b", True, ("g1",), 5, 7)
    assert "overlaps maintenance" in " | ".join(validate(problem, plan).violations)


def test_the_contract_and_reason_texts_are_there_for_operators():
    assert "entitlement" in FAIRNESS_CONTRACT and "quota" in FAIRNESS_CONTRACT.lower()
    for code in (
        "no_valid_training",
        "quota_exhausted",
        "no_feasible_start",
        "capacity_to_fairer_share",
        "chain_unplaceable",
    ):
        assert REASON_TEXTS[code].startswith("Not granted")


def test_even_a_tiny_time_limit_returns_a_feasible_plan():
    from scheduler.generator import generate

    problem = generate(300, 20, 12, seed=4)
    plan = solve(problem, time_limit=0.3)
    assert plan.status in ("greedy_fallback", "feasible", "optimal")
    assert validate(problem, plan).ok
