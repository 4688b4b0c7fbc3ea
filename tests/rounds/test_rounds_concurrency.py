"""Rounds under concurrency on PostgreSQL: one solve per round, no double promotion."""

from __future__ import annotations

import threading

import pytest
from django.db import connections

from booking.bookings.models import BookingStatus
from booking.errors import Conflict, ParkError
from booking.rounds.models import AllocationRound
from tests.rounds import round_fixtures
from tests.rounds.round_fixtures import ask

week_round = round_fixtures.week_round

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def run_at_once(attempts) -> list:
    barrier = threading.Barrier(len(attempts))
    results = [None] * len(attempts)

    def worker(i, attempt):
        try:
            barrier.wait()
            results[i] = attempt()
        except ParkError as exc:
            results[i] = exc
        except Exception as exc:  # noqa: BLE001 - a leaked exception is what the test looks for
            results[i] = ("leaked", repr(exc))
        finally:
            connections.close_all()

    threads = [threading.Thread(target=worker, args=(i, a)) for i, a in enumerate(attempts)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    return results


def test_many_clicks_on_run_the_planner_start_exactly_one_solve(park, week_round):
    from booking.rounds.lifecycle import round_close
    from booking.rounds.services import round_run_planner

    ask(week_round, user=park.alice, tenant=park.acme, resource=park.xrd)
    ask(week_round, user=park.charlie, tenant=park.globex, resource=park.xrd)
    rnd = round_close(allocation_round=week_round)
    solves = []
    from booking.rounds import solving as planning

    original = planning.round_plan_solve

    def counting(**kwargs):
        solves.append(kwargs)
        return original(**kwargs)

    planning.round_plan_solve = counting
    try:
        results = run_at_once([lambda: round_run_planner(allocation_round=rnd) for _ in range(8)])
    finally:
        planning.round_plan_solve = original
    winners = [r for r in results if isinstance(r, AllocationRound)]
    losers = [r for r in results if isinstance(r, Conflict)]
    assert len(winners) == 1 and len(losers) == 7, results
    assert {e.code for e in losers} == {"round_not_closed"}
    assert len(solves) == 1
    rnd.refresh_from_db()
    assert rnd.status == AllocationRound.Status.SOLVED


def test_two_cancellations_at_once_never_promote_into_the_same_time(park, week_round):
    from booking.bookings.services import booking_cancel
    from booking.rounds.lifecycle import round_close
    from booking.rounds.services import round_publish, round_run_planner

    made = [ask(week_round, user=park.alice, tenant=park.acme, resource=park.xrd) for _ in range(4)]
    made += [
        ask(week_round, user=park.charlie, tenant=park.globex, resource=park.xrd) for _ in range(4)
    ]
    rnd = round_close(allocation_round=week_round)
    round_run_planner(
        allocation_round=rnd
    )  # the task runs when this commits (huey is immediate in tests)
    round_publish(allocation_round=rnd)
    for b in made:
        b.refresh_from_db()
    granted = [b for b in made if b.status == BookingStatus.CONFIRMED]
    assert len(granted) == 3
    owners = {park.alice.pk: park.alice, park.charlie.pk: park.charlie}
    results = run_at_once(
        [lambda b=b: booking_cancel(user=owners[b.user_id], booking=b) for b in granted[:2]]
    )
    assert not [r for r in results if isinstance(r, tuple)], results
    confirmed = list(
        rnd.requests.filter(status=BookingStatus.CONFIRMED)
        .order_by("start")
        .values_list("start", "end")
    )
    assert len(confirmed) == 3  # the two freed slots went to two waitlisted requests
    for (_s1, e1), (s2, _e2) in zip(confirmed, confirmed[1:], strict=False):
        assert e1 <= s2
