"""The planner as a typed pipeline: one time budget, and each step's facts (the floor never drops
from one step to the next; every step ends inside the limit)."""

import time

import pytest

from scheduler.analysis import prepare
from scheduler.decompose import plan_parts
from scheduler.fairness import fair_level, share_of
from scheduler.greedy import greedy_placements
from scheduler.hotspots import generate_hotspots
from scheduler.pipeline import SHARES, Budget, SolveFacts, StageFact
from scheduler.starts import free_order


def test_the_budget_counts_each_share_from_one_start():
    b = Budget.start(10.0, workers=1, seed=3, started=100.0)
    assert b.at(SHARES.start) == pytest.approx(100.5)
    # 3% of the limit and 0.1 s are kept for writing the plan, and any reserve asked for.
    assert b.end() == pytest.approx(100.0 + 9.7 - 0.1)
    assert b.end(reserve=0.9) == pytest.approx(100.0 + 9.7 - 1.0)
    # A step's own budget keeps the workers and seed; one ending at a given moment.
    sub = b.sub(b.limit_until(105.0), started=b.started)
    assert (sub.workers, sub.seed) == (1, 3)
    assert sub.end() == pytest.approx(105.0)


def test_stage_facts_read_as_the_plan_stores_them():
    facts = SolveFacts(
        stages=[StageFact("floor", "optimal", 0.2, 10.0, 12.0), StageFact("usage", "unknown", 1.0)]
    )
    assert facts.stage_dicts() == [
        {"stage": "floor", "status": "optimal", "seconds": 0.2, "objective": 10.0, "bound": 12.0},
        {"stage": "usage", "status": "unknown", "seconds": 1.0},
    ]
    from dataclasses import replace

    assert replace(facts.stages[1], part=2, whole=False).as_dict() == {
        "part": 2,
        "whole": False,
        "stage": "usage",
        "status": "unknown",
        "seconds": 1.0,
    }


def test_each_step_of_a_hot_spot_round_keeps_the_floor_and_ends_inside_the_limit():
    problem = generate_hotspots(600, seed=0)
    t0 = time.perf_counter()
    prep = prepare(problem, demand_seconds=0.2)
    tl, facts = plan_parts(prep, Budget.start(4.0, started=t0))
    names = [s.name for s in facts.steps]
    assert names[0] == "start" and "floor_lns" in names and "whole_model" in names
    floors = [s.floor for s in facts.steps]
    assert floors == sorted(floors), list(zip(names, floors, strict=True))
    times = [s.at for s in facts.steps]
    assert times == sorted(times) and times[-1] <= 4.0
    assert facts.steps[-1].floor == pytest.approx(fair_level(prep, tl))
    assert facts.steps[-1].hours == sum(tl.usage.values())


def test_free_order_puts_the_runs_in_a_floor_pairs_way_before_other_waiting_requests():
    problem = generate_hotspots(600, seed=0)
    prep = prepare(problem, demand_seconds=0.2)
    tl = greedy_placements(prep)
    reqs = prep.problem.request_by_id
    order = free_order(prep, tl)
    floor = fair_level(prep, tl)

    def key(qid):
        return (reqs[qid].tenant, prep.klass[qid])

    def at_floor(qid):
        k = key(qid)
        return (
            qid not in tl.placed
            and tl.usage.get(k, 0) < prep.demand.get(k, 0)
            and share_of(prep, k, tl) <= floor + 1e-9
        )

    first = [q for q in order if at_floor(q)]
    assert first and order[: len(first)] == first
    # The windows those requests need on their resources; the placed runs overlapping them come
    # next, before any other waiting request.
    # (widened by the line's longest changeover: a run just outside can still be in the way)
    res = prep.problem.resource_by_id

    def margin(rid):
        return max((t for *_x, t in res[rid].changeovers), default=0)

    need = [(rid, reqs[q].earliest, reqs[q].deadline) for q in first for rid in prep.starts[q]]

    def in_way(qid):
        rids, s = tl.placed[qid]
        e = s + reqs[qid].duration
        return any(r in rids and lo - margin(r) < e and s < hi + margin(r) for r, lo, hi in need)

    rest = order[len(first) :]
    way = [q for q in rest if q in tl.placed and in_way(q)]
    assert way, "the hot-spot lines are full: some placed run is in the floor pairs' way"
    first_waiting = next(i for i, q in enumerate(rest) if q not in tl.placed)
    assert max(rest.index(q) for q in way) < first_waiting


def test_floor_neighbourhoods_past_their_soft_moment_stop_once_the_floor_stops_rising():
    """The one-model round's floor neighbourhoods run past ``single_lns`` only while the floor
    still rises: past the soft moment with no rise within ``patience``, no neighbourhood is
    tried; before it, they raise the floor."""
    from scheduler.neighbourhoods import floor_lns

    prep = prepare(generate_hotspots(600, seed=0), demand_seconds=0.2)
    start = greedy_placements(prep)
    t0 = time.perf_counter()
    same = floor_lns(prep, start, deadline=t0 + 30, soft=t0, patience=0.0, workers=1, seed=0)
    assert same is start and time.perf_counter() - t0 < 0.5
    t1 = time.perf_counter()
    raised = floor_lns(prep, start, deadline=t1 + 3, soft=t1 + 30, patience=0.0, workers=1, seed=0)
    assert fair_level(prep, raised) > fair_level(prep, start)
