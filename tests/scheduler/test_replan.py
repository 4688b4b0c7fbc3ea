"""Re-plans after a change to a published round keep every rule (scheduler.replan)."""

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from scheduler import (
    Assignment,
    Cancellation,
    LineDown,
    MaintenanceAdded,
    Plan,
    Problem,
    ProblemError,
    Request,
    Resource,
    Tenant,
    Training,
    TrainingExpired,
    replan,
    solve,
    validate,
)
from scheduler.problem import LAB_INSTRUMENT, PILOT_LINE
from scheduler.replan import placement_allowed

from .factories import small_problem


def granted(rid, resource, start, end):
    return Assignment(rid, True, (resource,), start, end)


def waiting(rid, reason="capacity_full"):
    return Assignment(rid, False, reason=reason)


def sic_gan_line():
    return Resource(
        "line-sic",
        PILOT_LINE,
        resource_class="line",
        recipes=("SiC", "GaN"),
        changeovers=(("SiC", "GaN", 6), ("GaN", "SiC", 2)),
    )


def sic_gan_round():
    """A SiC run held in [0, 6), a cancellable SiC run in [6, 14), a SiC run held in [20, 24);
    a GaN run waits: after a SiC run it needs the 6-hour clean, before one a 2-hour changeover."""
    reqs = (
        Request("sic-1", "acme", "a", ("line-sic",), 6, 0, 6, recipe="SiC"),
        Request("sic-x", "beta", "b", ("line-sic",), 8, 6, 20, recipe="SiC"),
        Request("sic-2", "acme", "a", ("line-sic",), 4, 20, 24, recipe="SiC"),
        Request("gan", "gamma", "c", ("line-sic",), 4, 6, 22, recipe="GaN"),
    )
    problem = Problem(
        horizon=30,
        resources=(sic_gan_line(),),
        tenants=(Tenant("acme"), Tenant("beta"), Tenant("gamma")),
        requests=reqs,
    )
    published = Plan(
        {
            "sic-1": granted("sic-1", "line-sic", 0, 6),
            "sic-x": granted("sic-x", "line-sic", 6, 14),
            "sic-2": granted("sic-2", "line-sic", 20, 24),
            "gan": waiting("gan"),
        }
    )
    assert validate(problem, published).ok
    return problem, published


def held_of(plan):
    return {rid: (a.resources, a.start) for rid, a in plan.assignments.items() if a.granted}


def test_a_cancellation_keeps_the_clean_between_a_held_sic_run_and_a_promoted_gan_run():
    problem, published = sic_gan_round()
    out = replan(problem, published, Cancellation("sic-x"), time_limit=2)
    gan = out.plan.assignments["gan"]
    assert out.promoted == ("gan",)
    # 6-hour clean after the held SiC run ending at 6; 2 hours before the one starting at 20.
    assert 12 <= gan.start and gan.end + 2 <= 20
    assert out.held == ("sic-1", "sic-2")
    assert out.withdrawn == ("sic-x",)
    report = validate(out.problem, out.plan, held=held_of(published))
    assert report.ok, report.violations


def test_the_validator_reports_a_run_that_skips_the_clean_after_a_held_run():
    problem, _published = sic_gan_round()
    after = problem.replace(requests=[q for q in problem.requests if q.id != "sic-x"])
    skipped = Plan(
        {
            "sic-1": granted("sic-1", "line-sic", 0, 6),
            "sic-2": granted("sic-2", "line-sic", 20, 24),
            "gan": granted("gan", "line-sic", 6, 10),  # right after the SiC run: no clean
        }
    )
    report = validate(after, skipped)
    assert not report.ok
    assert any("changeover SiC->GaN needs 6" in v for v in report.violations)


def chain_round(trained: bool):
    """A line run chained to a metrology slot (training needed), waiting behind a line run
    that will be cancelled."""
    line = Resource("line", PILOT_LINE, resource_class="line")
    lab = Resource("metro", LAB_INSTRUMENT, resource_class="lab", required_training="metro")
    reqs = (
        Request("blocker", "beta", "b", ("line",), 10, 0, 10),
        Request("run", "acme", "a", ("line",), 4, 0, 10, chain="route", chain_step=0),
        Request("measure", "acme", "a", ("metro",), 2, 0, 20, chain="route", chain_step=1),
    )
    trainings = (Training("a", "metro", -10, 100),) if trained else ()
    problem = Problem(
        horizon=20,
        resources=(line, lab),
        tenants=(Tenant("acme"), Tenant("beta")),
        requests=reqs,
        trainings=trainings,
    )
    reason = "chain_unplaceable" if trained else "no_valid_training"
    published = Plan(
        {
            "blocker": granted("blocker", "line", 0, 10),
            "run": waiting("run", "chain_unplaceable"),
            "measure": waiting("measure", reason),
        }
    )
    assert validate(problem, published).ok
    return problem, published


def test_a_chain_step_is_not_promoted_when_its_partner_was_refused_for_lack_of_training():
    problem, published = chain_round(trained=False)
    out = replan(problem, published, Cancellation("blocker"), time_limit=2)
    assert not out.plan.assignments["run"].granted
    assert out.promoted == ()
    assert validate(out.problem, out.plan).ok


def test_a_chain_step_is_not_promoted_when_its_partner_was_refused_for_good_elsewhere():
    problem, published = chain_round(trained=True)
    # Without the refusal the chain fits once the blocker is gone...
    free = replan(problem, published, Cancellation("blocker"), time_limit=2)
    assert free.promoted == ("run", "measure")
    # ...refused for good (by the caller), the partner keeps the line run off as well.
    out = replan(problem, published, Cancellation("blocker"), refused={"measure"}, time_limit=2)
    assert out.promoted == ()
    assert out.plan.assignments["run"].reason == "chain_unplaceable"
    assert validate(out.problem, out.plan, refused={"measure"}).ok
    # A partner refused outside the problem is named by its chain.
    alone = problem.replace(requests=[q for q in problem.requests if q.id != "measure"])
    out = replan(alone, published, Cancellation("blocker"), refused_chains={"route"})
    assert out.promoted == ()


def test_the_validator_reports_a_step_granted_beside_a_refused_partner_and_a_held_run_moved():
    problem, _published = chain_round(trained=True)
    plan = Plan(
        {
            "run": granted("run", "line", 0, 4),
            "measure": waiting("measure", "no_feasible_start"),
        }
    )
    report = validate(problem, plan, refused={"measure"})
    assert any("chain route" in v for v in report.violations)
    moved = Plan({"blocker": granted("blocker", "line", 0, 10)})
    report = validate(problem, moved, held={"blocker": (("line",), 2)})
    assert any("moved" in v for v in report.violations)


def test_maintenance_over_a_chain_step_replans_the_step_next_to_its_held_partner():
    problem, _ = chain_round(trained=True)
    problem = problem.replace(requests=[q for q in problem.requests if q.id != "blocker"])
    published = Plan(
        {"run": granted("run", "line", 0, 4), "measure": granted("measure", "metro", 4, 6)}
    )
    assert validate(problem, published).ok
    out = replan(problem, published, MaintenanceAdded("metro", 4, 6), time_limit=2)
    assert out.held == ("run",)
    assert out.moved == ("measure",)
    assert out.plan.assignments["run"].start == 0
    assert out.plan.assignments["measure"].start >= 6
    assert validate(out.problem, out.plan, held={"run": (("line",), 0)}).ok
    # With the line down instead, the run cannot stay and the chain goes as a whole.
    out = replan(problem, published, LineDown("line", 0), time_limit=2)
    assert out.released == ("run", "measure")
    assert validate(out.problem, out.plan).ok


def test_an_expired_training_releases_the_booking_it_no_longer_covers():
    problem, _ = chain_round(trained=True)
    lab_only = problem.replace(
        requests=[Request("scan", "acme", "a", ("metro",), 4, 0, 20)],
    )
    published = Plan({"scan": granted("scan", "metro", 10, 14)})
    out = replan(lab_only, published, TrainingExpired("a", "metro", 12), time_limit=2)
    assert out.released == ()  # it fits again before the training ends
    assert out.moved == ("scan",)
    assert out.plan.assignments["scan"].end <= 12
    out = replan(lab_only, published, TrainingExpired("a", "metro", 3), time_limit=2)
    assert out.released == ("scan",)
    assert validate(out.problem, out.plan).ok


def test_nothing_new_starts_before_now():
    problem, published = sic_gan_round()
    out = replan(problem, published, Cancellation("sic-x"), now=15, time_limit=2)
    assert out.plan.assignments["gan"].granted is False
    out = replan(problem, published, Cancellation("sic-x"), now=13, time_limit=2)
    assert out.plan.assignments["gan"].start == 13


def test_a_change_naming_nothing_known_is_refused():
    problem, published = sic_gan_round()
    with pytest.raises(ProblemError) as err:
        replan(problem, published, Cancellation("nope"))
    assert err.value.code == "unknown_request"
    with pytest.raises(ProblemError) as err:
        replan(problem, published, MaintenanceAdded("line-x", 0, 4))
    assert err.value.code == "unknown_resource"
    with pytest.raises(ProblemError) as err:
        replan(problem, published, TrainingExpired("zed", "metro", 4))
    assert err.value.code == "unknown_training"


def _change(problem: Problem, draw) -> object:
    kind = draw(st.sampled_from(["cancel", "maintenance", "down", "training"]))
    if kind == "cancel" and problem.requests:
        return Cancellation(draw(st.sampled_from([q.id for q in problem.requests])))
    if kind == "training" and problem.trainings:
        t = draw(st.sampled_from(problem.trainings))
        return TrainingExpired(t.user, t.training, draw(st.integers(0, problem.horizon)))
    rid = draw(st.sampled_from([r.id for r in problem.resources]))
    start = draw(st.integers(0, problem.horizon - 1))
    if kind == "down":
        return LineDown(rid, start)
    return MaintenanceAdded(rid, start, draw(st.integers(start + 1, problem.horizon)))


@settings(
    max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow], derandomize=True
)
@given(seed=st.integers(0, 10**6), data=st.data())
def test_any_sequence_of_changes_gives_valid_plans(seed, data):
    problem = small_problem(seed, n_requests=12)
    plan = solve(problem, planner="greedy")
    refused = set()
    for _ in range(data.draw(st.integers(1, 4))):
        change = _change(problem, data.draw)
        if data.draw(st.booleans()) and problem.requests:
            refused.add(data.draw(st.sampled_from([q.id for q in problem.requests])))
        now = data.draw(st.integers(0, problem.horizon // 2))
        out = replan(problem, plan, change, now=now, refused=refused, time_limit=1, workers=1)
        held = {k: v for k, v in held_of(plan).items() if k not in out.moved}
        report = validate(out.problem, out.plan, held=held, refused=refused)
        assert report.ok, (change, report.violations)
        # Every confirmed booking is held, moved, released or withdrawn; nothing else moves.
        was = {rid for rid, a in plan.assignments.items() if a.granted}
        accounted = set(out.held) | set(out.moved) | set(out.released) | set(out.withdrawn)
        assert was <= accounted
        # A booking moves only when the change (or a refusal) took its place or its partner's.
        for rid in out.moved:
            q = out.problem.request_by_id[rid]
            steps = [m for m in out.problem.requests if q.chain and m.chain == q.chain] or [q]
            assert any(
                m.id in refused
                or m.id not in was
                or not placement_allowed(
                    out.problem, m, plan.assignments[m.id].resources, plan.assignments[m.id].start
                )
                for m in steps
            )
        for rid in out.promoted:
            assert out.plan.assignments[rid].start >= now
        problem, plan = out.problem, out.plan


@pytest.mark.slow
def test_replans_of_a_generated_week_keep_every_rule():
    from scheduler.generator import generate

    problem = generate(300, 20, 12, seed=4)
    plan = solve(problem, time_limit=5)
    granted = plan.granted_ids()
    lines = [r.id for r in problem.resources if r.kind == PILOT_LINE]
    changes = [Cancellation(rid) for rid in granted[::60]]
    changes += [MaintenanceAdded(lines[0], 30, 40), LineDown(lines[-1], 100)]
    changes += [TrainingExpired(t.user, t.training, 50) for t in problem.trainings[:2]]
    for change in changes:
        out = replan(problem, plan, change, time_limit=2)
        gone = set(out.moved) | set(out.withdrawn)
        held = {k: v for k, v in held_of(plan).items() if k not in gone}
        report = validate(out.problem, out.plan, held=held)
        assert report.ok, (change, report.violations[:5])
        was = set(granted)
        assert was <= set(out.held) | set(out.moved) | set(out.released) | set(out.withdrawn)
