"""A model of a line with more runs than one exact model takes re-plans the runs already placed
there (so it may move or free them for the worst-served tenants), not only the waiting ones."""

from __future__ import annotations

from scheduler import Problem, Request, Resource, Tenant
from scheduler.analysis import EXACT_CHANGEOVER_LIMIT, prepare
from scheduler.cpsat import exact_subset
from scheduler.greedy import greedy_placements
from scheduler.problem import PILOT_LINE


def _busy_line() -> Problem:
    line = Resource(
        "line",
        PILOT_LINE,
        recipes=("a", "b"),
        changeovers=(("a", "b", 2), ("b", "a", 2)),
    )
    n = EXACT_CHANGEOVER_LIMIT + 20
    requests = tuple(
        Request(f"q{i:03d}", f"t{i % 4}", "u", ("line",), 4, 0, 200, recipe="ab"[i % 2])
        for i in range(n)
    )
    return Problem(
        horizon=200,
        resources=(line,),
        tenants=tuple(Tenant(f"t{i}") for i in range(4)),
        requests=requests,
    )


def test_runs_placed_on_a_busy_line_are_in_the_model_before_waiting_ones():
    prep = prepare(_busy_line())
    placed = greedy_placements(prep).placed
    assert 0 < len(placed) < EXACT_CHANGEOVER_LIMIT
    # Worst-served first: the waiting requests lead the order, the placed ones come last.
    order = sorted((q.id for q in prep.problem.requests), key=lambda q: (q in placed, q))
    held_before = exact_subset(prep, None, order)
    assert held_before is not None and len(held_before) == EXACT_CHANGEOVER_LIMIT
    subset = exact_subset(prep, None, order, placed=placed)
    assert set(placed) <= subset  # none held where the earlier plan put it
    assert len(subset) == EXACT_CHANGEOVER_LIMIT
    assert not set(placed) <= held_before  # without them first, placed runs stayed fixed
