"""The adapter builds the planning problem the database describes, and writes the plan back."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from django.core.management import call_command

import scheduler
from booking.bookings.models import Booking, BookingStatus
from booking.rounds.adapter import round_problem_build
from booking.tenancy.models import Period
from booking.tenancy.services import quota_set
from resources.models import ResourcePool
from resources.services import maintenance_add
from tests.rounds import round_fixtures
from tests.rounds.round_fixtures import ask, at, close_and_solve

week_round = round_fixtures.week_round

pytestmark = pytest.mark.django_db

DAY = 48  # 30-minute slots: the XRD's granularity, the finest of the round-booked resources


def _confirmed(park, resource, start, end, tenant=None, user=None):
    return Booking.objects.create(
        tenant=tenant or park.acme,
        user=user or park.alice,
        resource=resource,
        title="held",
        start=start,
        end=end,
        status=BookingStatus.CONFIRMED,
        exclusive=resource.capacity == 1,
    )


def test_only_round_booked_resources_are_planned_with_their_kind_and_capacity(park, week_round):
    problem = round_problem_build(allocation_round=week_round).problem
    assert {r.id: (r.kind, r.capacity, r.resource_class) for r in problem.resources} == {
        "xrd": (scheduler.LAB_INSTRUMENT, 1, "instrument"),
        "epi": (scheduler.PILOT_LINE, 1, "line"),
    }
    assert problem.slot_minutes == 30
    assert problem.horizon == 7 * DAY
    assert problem.round_start == week_round.period_start


def test_opening_hours_become_periods_and_a_2359_shift_runs_through_the_night(park, week_round):
    problem = round_problem_build(allocation_round=week_round).problem
    xrd = problem.resource_by_id["xrd"]
    assert xrd.open_periods == tuple((d * DAY + 16, d * DAY + 40) for d in range(7))
    assert problem.resource_by_id["epi"].open_periods == ((0, 7 * DAY),)


def test_recipes_changeovers_and_minimum_run_of_the_line(park, week_round):
    line = round_problem_build(allocation_round=week_round).problem.resource_by_id["epi"]
    assert line.recipes == ("gan", "sic")
    assert set(line.changeovers) == {("sic", "gan", 12), ("gan", "sic", 8)}
    assert line.min_run == 8


def test_maintenance_and_existing_bookings_block_time_rounded_outwards(park, week_round):
    maintenance_add(
        resource=park.xrd, start=at(week_round, 1, 10, 10), end=at(week_round, 1, 12, 20)
    )
    _confirmed(park, park.xrd, at(week_round, 2, 9), at(week_round, 2, 11))
    cancelled = _confirmed(park, park.xrd, at(week_round, 3, 9), at(week_round, 3, 11))
    Booking.objects.filter(pk=cancelled.pk).update(status=BookingStatus.CANCELLED)
    xrd = round_problem_build(allocation_round=week_round).problem.resource_by_id["xrd"]
    assert xrd.maintenance == ((DAY + 20, DAY + 25), (2 * DAY + 18, 2 * DAY + 22))


def test_quota_for_the_round_is_what_is_left_of_every_period_it_touches(park, week_round):
    quota_set(tenant=park.acme, resource_class="instrument", period=Period.WEEK, hours=20)
    _confirmed(park, park.xrd, at(week_round, 0, 9), at(week_round, 0, 11))
    ask(week_round, user=park.alice, tenant=park.acme, resource=park.xrd, day=1)
    ask(
        week_round,
        user=park.alice,
        tenant=park.acme,
        resource=park.line,
        day=1,
        start=0,
        end=24,
        recipe="sic",
    )
    ask(week_round, user=park.charlie, tenant=park.globex, resource=park.xrd, day=1)
    problem = round_problem_build(allocation_round=week_round).problem
    acme = problem.tenant_by_id["acme"]
    assert acme.weight == 1.0
    assert acme.quota("instrument") == 18 * 2  # 20 h − 2 h used, in 30-minute slots
    assert acme.quota("line") == 200 * 2
    globex = problem.tenant_by_id["globex"]
    assert globex.weight == 2.0 and globex.quota("instrument") == 40


def test_trainings_of_the_users_asking_are_converted_to_slots(park, week_round):
    park.xrd.required_training = park.microscopy
    park.xrd.save()
    ask(week_round, user=park.alice, tenant=park.acme, resource=park.xrd)
    problem = round_problem_build(allocation_round=week_round).problem
    assert problem.resource_by_id["xrd"].required_training == "confocal"
    [training] = problem.trainings
    assert training.user == "alice" and training.training == "confocal"
    assert training.valid_from < 0 < 7 * DAY < training.valid_until


def test_requests_become_slot_windows_with_pools_recipes_and_chains(park, week_round):
    pool = ResourcePool.objects.create(name="Any XRD", slug="any-xrd", kind="instrument")
    pool.members.set([park.xrd])
    by_pool = ask(week_round, user=park.charlie, tenant=park.globex, pool=pool, day=2, minutes=90)
    run = ask(
        week_round,
        user=park.alice,
        tenant=park.acme,
        resource=park.line,
        start=0,
        end=24,
        recipe="gan",
        priority=3,
    )
    check = ask(
        week_round,
        user=park.alice,
        tenant=park.acme,
        resource=park.xrd,
        follows=run,
        max_gap_minutes=120,
    )
    rp = round_problem_build(allocation_round=week_round)
    q = rp.problem.request_by_id
    assert q[str(by_pool.pk)].resources == ("xrd",)
    assert (
        q[str(by_pool.pk)].earliest,
        q[str(by_pool.pk)].deadline,
        q[str(by_pool.pk)].duration,
    ) == (
        2 * DAY + 16,
        2 * DAY + 40,
        3,
    )
    assert q[str(run.pk)].recipe == "gan" and q[str(run.pk)].priority == 3
    assert q[str(run.pk)].chain == q[str(check.pk)].chain is not None
    assert (q[str(run.pk)].chain_step, q[str(check.pk)].chain_step) == (0, 1)
    assert q[str(check.pk)].max_gap == 4


def test_a_window_too_short_on_the_planning_grid_is_decided_before_solving(park, week_round):
    off_grid = ask(
        week_round,
        user=park.alice,
        tenant=park.acme,
        resource=park.xrd,
        start=8,
        end=12,
        minutes=240,
    )
    Booking.objects.filter(pk=off_grid.pk).update(
        earliest_start=at(week_round, 0, 8, 15), latest_end=at(week_round, 0, 12, 15)
    )
    rp = round_problem_build(allocation_round=week_round)
    assert str(off_grid.pk) not in rp.problem.request_by_id
    assert rp.preset[off_grid.pk].code == "no_feasible_start"
    scheduler.check_problem(rp.problem)


def test_the_plan_is_written_back_and_validates(
    park, week_round, django_capture_on_commit_callbacks
):
    for _ in range(3):
        ask(week_round, user=park.alice, tenant=park.acme, resource=park.xrd)
        ask(week_round, user=park.charlie, tenant=park.globex, resource=park.xrd)
    rnd = close_and_solve(week_round, django_capture_on_commit_callbacks)
    problem = scheduler.problem_from_json(rnd.plan["problem"])
    plan = scheduler.plan_from_json(rnd.plan["plan"])
    report = scheduler.validate(problem, plan)
    assert report.ok, report
    assert rnd.figures["floor"] == pytest.approx(plan.figures["floor"])
    assert set(rnd.figures) >= {"floor", "jain", "utilisation", "tenants", "wall_time", "status"}
    # Nothing is decided on the requests themselves until the operator publishes.
    assert set(rnd.requests.values_list("status", flat=True)) == {BookingStatus.REQUESTED}


def test_export_round_writes_a_problem_the_scheduler_cli_solves(
    park, week_round, tmp_path, django_capture_on_commit_callbacks
):
    ask(week_round, user=park.alice, tenant=park.acme, resource=park.xrd)
    ask(
        week_round,
        user=park.charlie,
        tenant=park.globex,
        resource=park.line,
        start=0,
        end=24,
        recipe="sic",
    )
    out = tmp_path / "problem.json"
    call_command("export_round", str(week_round.pk), str(out))
    doc = json.loads(out.read_text())
    assert len(doc["requests"]) == 2
    rnd = close_and_solve(week_round, django_capture_on_commit_callbacks)
    call_command("export_round", str(rnd.pk), str(out), "--plan", str(tmp_path / "stored.json"))
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "scheduler",
            "solve",
            str(out),
            "--time-limit",
            "5",
            "--out",
            str(tmp_path / "plan.json"),
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    again = scheduler.plan_from_json((tmp_path / "plan.json").read_text())
    stored = scheduler.plan_from_json((tmp_path / "stored.json").read_text())
    assert sorted(again.granted_ids()) == sorted(stored.granted_ids())


def test_every_paragraph_of_the_contract_is_listed_for_translation(park):
    from booking.rounds.contract_i18n import PARAGRAPHS
    from booking.rounds.reasons import contract_paragraphs

    missing = [p for p in contract_paragraphs() if p not in PARAGRAPHS]
    assert not missing, "add them to booking/contract_i18n.py and translate them"


@pytest.mark.parametrize("language", ["zh-hant", "zh-hans"])
def test_every_paragraph_of_the_contract_is_translated(language):
    from django.utils import translation

    from booking.rounds.reasons import contract_paragraphs

    with translation.override(language):
        untranslated = [p for p in contract_paragraphs() if translation.gettext(p) == p]
    assert not untranslated


def test_each_reason_code_of_the_solver_has_translated_words():
    from booking.rounds.reasons import REASON_TEXTS

    assert set(scheduler.REASON_TEXTS) <= set(REASON_TEXTS)
