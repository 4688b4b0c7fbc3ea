"""The proof that a round's floor is 0 (scheduler.cover): sound, and what it changes in a solve."""

from __future__ import annotations

import time

import pytest

from scheduler import Problem, Request, Resource, Tenant, solve, validate
from scheduler.analysis import prepare
from scheduler.cover import zero_floor_proven
from scheduler.problem import LAB_INSTRUMENT, PILOT_LINE

from .factories import small_problem


def _two_runs(recipe_b: str) -> Problem:
    """One line; t1's run of recipe a must lie in [0, 4), t2's run in [2, 6). Between a and b
    the line needs a 4-slot clean, so two different recipes cannot both fit."""
    line = Resource(
        "line",
        PILOT_LINE,
        resource_class="line",
        recipes=("a", "b"),
        changeovers=(("a", "b", 4), ("b", "a", 4)),
    )
    lab = Resource("lab", LAB_INSTRUMENT, resource_class="lab")
    return Problem(
        horizon=12,
        resources=(line, lab),
        tenants=(Tenant("t1"), Tenant("t2")),
        requests=(
            Request("r1", "t1", "u1", ("line",), 2, 0, 4, recipe="a"),
            Request("r2", "t2", "u2", ("line",), 2, 2, 6, recipe=recipe_b),
            Request("m1", "t1", "u1", ("lab",), 3, 0, 12),
        ),
    )


def _proven(problem: Problem) -> bool:
    prep = prepare(problem, demand_seconds=0.5)
    return zero_floor_proven(prep, deadline=time.perf_counter() + 5)


def test_two_tenants_whose_runs_need_a_changeover_they_have_no_room_for_prove_a_zero_floor():
    problem = _two_runs("b")
    assert _proven(problem)
    plan = solve(problem, time_limit=5)
    assert plan.bounds["floor"] == 0.0
    assert validate(problem, plan).figures.floor == 0.0


def test_the_same_recipe_needs_no_changeover_so_both_get_a_run_and_nothing_is_proven():
    problem = _two_runs("a")
    assert not _proven(problem)
    plan = solve(problem, time_limit=5)
    assert validate(problem, plan).figures.floor > 0


@pytest.mark.parametrize("seed", range(40))  # (the cover proves 0 on 2 of them)
def test_a_zero_floor_proof_is_never_contradicted_by_a_plan(seed):
    """Soundness: where the cover says 0, no plan (here the planner's, optimal on rounds this
    small) has a positive floor."""
    problem = small_problem(seed, n_requests=12)
    if _proven(problem):
        assert validate(problem, solve(problem, time_limit=3)).figures.floor == 0.0


def test_a_hot_spot_round_is_proven_in_well_under_a_second_of_solving():
    from scheduler.hotspots import generate_hotspots

    prep = prepare(generate_hotspots(2000, seed=1), demand_seconds=0.5)
    t0 = time.perf_counter()
    assert zero_floor_proven(prep, deadline=t0 + 5)
    assert time.perf_counter() - t0 < 3  # model building included; measured 0.5 s
