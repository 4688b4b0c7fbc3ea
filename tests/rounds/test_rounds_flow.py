"""End to end: requests from two tenants, close, plan, publish, waitlist, what-if."""

from __future__ import annotations

import pytest
from django.core import mail

from booking.bookings.models import BookingEvent, BookingStatus
from booking.rounds.models import AllocationRound
from tests.rounds import round_fixtures
from tests.rounds.round_fixtures import ask, close_and_solve, publish

week_round = round_fixtures.week_round

pytestmark = pytest.mark.django_db


def test_a_contended_round_is_planned_published_and_explained(
    park, week_round, django_capture_on_commit_callbacks
):
    rnd = week_round
    # XRD is open 08–20 on day 0: 12 hours; each tenant asks for 3 × 4 h = 24 h in total.
    mine = [ask(rnd, user=park.alice, tenant=park.acme, resource=park.xrd) for _ in range(3)]
    theirs = [ask(rnd, user=park.charlie, tenant=park.globex, resource=park.xrd) for _ in range(3)]
    rnd = close_and_solve(rnd, django_capture_on_commit_callbacks)
    assert rnd.status == AllocationRound.Status.SOLVED
    assert rnd.figures["requests"] == 6
    assert rnd.figures["granted"] == 3
    assert set(rnd.plan["outcomes"]) == {str(b.pk) for b in mine + theirs}
    assert "problem" in rnd.plan and "plan" in rnd.plan

    mail.outbox.clear()
    publish(rnd, django_capture_on_commit_callbacks, actor=park.olga)
    rnd.refresh_from_db()
    assert rnd.status == AllocationRound.Status.PUBLISHED
    assert rnd.published_by == park.olga
    statuses = {}
    for b in mine + theirs:
        b.refresh_from_db()
        statuses.setdefault(b.status, []).append(b)
        assert b.reason_code and b.reason_text
        assert b.events.filter(to_status=b.status).exists()
    assert len(statuses[BookingStatus.CONFIRMED]) == 3
    assert len(statuses[BookingStatus.WAITLISTED]) == 3
    for b in statuses[BookingStatus.CONFIRMED]:
        assert b.resource == park.xrd and b.start and b.end
    for b in statuses[BookingStatus.WAITLISTED]:
        assert b.reason_code in ("capacity_to_fairer_share", "capacity_full")
    assert len(mail.outbox) == 6


def _outcomes(bookings):
    for b in bookings:
        b.refresh_from_db()
    return bookings


def test_a_tenant_with_twice_the_weight_gets_twice_the_contended_time(
    park, week_round, django_capture_on_commit_callbacks
):
    rnd = week_round
    assert park.globex.weight == 2 * park.acme.weight
    acme = [ask(rnd, user=park.alice, tenant=park.acme, resource=park.xrd) for _ in range(3)]
    globex = [ask(rnd, user=park.charlie, tenant=park.globex, resource=park.xrd) for _ in range(3)]
    rnd = close_and_solve(rnd, django_capture_on_commit_callbacks)
    publish(rnd, django_capture_on_commit_callbacks)
    acme_hours = sum(b.hours() for b in _outcomes(acme) if b.status == BookingStatus.CONFIRMED)
    globex_hours = sum(b.hours() for b in _outcomes(globex) if b.status == BookingStatus.CONFIRMED)
    assert (acme_hours, globex_hours) == (4, 8)
    rows = {(r["tenant"], r["class"]): r["share"] for r in rnd.figures["tenants"]}
    assert set(rows) == {("acme", "instrument"), ("globex", "instrument")}
    assert 0 < rnd.figures["jain"] <= 1


def test_a_request_whose_training_was_revoked_is_refused_with_its_reason(
    park, week_round, django_capture_on_commit_callbacks
):
    from resources.models import TrainingRecord

    park.xrd.required_training = park.microscopy
    park.xrd.save()
    request = ask(week_round, user=park.alice, tenant=park.acme, resource=park.xrd)
    TrainingRecord.objects.filter(user=park.alice).delete()
    rnd = close_and_solve(week_round, django_capture_on_commit_callbacks)
    publish(rnd, django_capture_on_commit_callbacks)
    request.refresh_from_db()
    assert request.status == BookingStatus.REFUSED
    assert request.reason_code == "no_valid_training"
    assert "training" in request.reason_text


def test_quota_caps_hold_even_when_the_resource_is_free(
    park, week_round, django_capture_on_commit_callbacks
):
    from booking.tenancy.models import Period
    from booking.tenancy.services import quota_set

    quota_set(tenant=park.acme, resource_class="instrument", period=Period.WEEK, hours=6)
    small = [
        ask(week_round, user=park.alice, tenant=park.acme, resource=park.xrd, day=d)
        for d in (0, 1, 2)
    ]
    big = ask(week_round, user=park.alice, tenant=park.acme, resource=park.xrd, day=3, minutes=480)
    rnd = close_and_solve(week_round, django_capture_on_commit_callbacks)
    publish(rnd, django_capture_on_commit_callbacks)
    _outcomes(small + [big])
    granted = [b for b in small if b.status == BookingStatus.CONFIRMED]
    assert len(granted) == 1
    assert {b.reason_code for b in small if b not in granted} == {"quota_exhausted"}
    assert {b.status for b in small if b not in granted} == {BookingStatus.WAITLISTED}
    assert big.status == BookingStatus.REFUSED and big.reason_code == "quota_exceeds_round"


def test_a_second_planner_run_of_the_same_round_is_refused(
    park, week_round, django_capture_on_commit_callbacks
):
    from booking.errors import Conflict
    from booking.leases import held
    from booking.rounds.lifecycle import round_close
    from booking.rounds.services import round_run_planner
    from booking.rounds.tasks import round_lock_name, round_solve_task

    ask(week_round, user=park.alice, tenant=park.acme, resource=park.xrd)
    rnd = round_close(allocation_round=week_round)
    # The first click queues the planner (its task runs when the transaction commits) ...
    with django_capture_on_commit_callbacks(execute=False) as queued:
        round_run_planner(allocation_round=rnd)
    assert len(queued) == 1
    # ... a second click while it is SOLVING is refused, nothing more is queued.
    with django_capture_on_commit_callbacks(execute=False) as again:
        with pytest.raises(Conflict) as refused:
            round_run_planner(allocation_round=rnd)
    assert refused.value.code == "round_not_closed" and again == []
    # A duplicate task while the round's lease is held does nothing.
    with held(round_lock_name(rnd.pk), seconds=60):
        assert round_solve_task(rnd.pk)() is False
    rnd.refresh_from_db()
    assert rnd.status == AllocationRound.Status.SOLVING and rnd.plan is None
    queued[0]()
    rnd.refresh_from_db()
    assert rnd.status == AllocationRound.Status.SOLVED


def test_cancelling_a_granted_booking_promotes_a_waitlisted_one_and_tells_its_owner(
    park, week_round, django_capture_on_commit_callbacks
):
    from booking.bookings.services import booking_cancel

    acme = [ask(week_round, user=park.alice, tenant=park.acme, resource=park.xrd) for _ in range(3)]
    globex = [
        ask(week_round, user=park.charlie, tenant=park.globex, resource=park.xrd) for _ in range(3)
    ]
    rnd = close_and_solve(week_round, django_capture_on_commit_callbacks)
    publish(rnd, django_capture_on_commit_callbacks)
    _outcomes(acme + globex)
    granted_charlie = [b for b in globex if b.status == BookingStatus.CONFIRMED]
    waiting = [b for b in acme + globex if b.status == BookingStatus.WAITLISTED]
    assert granted_charlie and waiting
    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        booking_cancel(user=park.charlie, booking=granted_charlie[0])
    _outcomes(waiting)
    promoted = [b for b in waiting if b.status == BookingStatus.CONFIRMED]
    assert len(promoted) == 1
    assert promoted[0].reason_code == "promoted"
    assert promoted[0].start == granted_charlie[0].start  # the freed 4 h, nothing else is free
    event = BookingEvent.objects.filter(booking=promoted[0], to_status="confirmed").get()
    assert "waitlist" in event.note
    assert promoted[0].user.email in {m.to[0] for m in mail.outbox}


def test_a_cancellation_commits_before_the_waitlist_is_re_planned_in_the_worker(
    park, week_round, django_capture_on_commit_callbacks
):
    from booking.bookings.services import booking_cancel
    from booking.leases import lease_acquire, lease_release
    from booking.rounds.tasks import round_lock_name, waitlist_replan_task

    made = [ask(week_round, user=park.alice, tenant=park.acme, resource=park.xrd) for _ in range(4)]
    rnd = close_and_solve(week_round, django_capture_on_commit_callbacks)
    publish(rnd, django_capture_on_commit_callbacks)
    granted = [b for b in _outcomes(made) if b.status == BookingStatus.CONFIRMED]
    with django_capture_on_commit_callbacks(execute=False) as queued:
        booking_cancel(user=park.alice, booking=granted[0])
    # The cancel itself planned nothing: the re-plan is queued for after the commit.
    assert rnd.requests.filter(status=BookingStatus.WAITLISTED).count() == 1
    assert not rnd.requests.filter(reason_code="promoted").exists()
    # While another worker holds the round's lease, the task leaves the run to it ...
    other = lease_acquire(name=round_lock_name(rnd.pk), seconds=60)
    assert waitlist_replan_task(rnd.pk, granted[0].pk)() == -1
    assert lease_release(name=round_lock_name(rnd.pk), holder=other) is False  # run once more
    lease_release(name=round_lock_name(rnd.pk), holder=other)
    # ... and once the lease is free the queued task promotes the waitlisted request.
    for callback in queued:
        callback()
    assert rnd.requests.filter(reason_code="promoted", status=BookingStatus.CONFIRMED).count() == 1


def test_what_if_lists_the_requests_whose_outcome_changes(
    park, week_round, django_capture_on_commit_callbacks
):
    from booking.rounds.preview import round_what_if

    acme = [ask(week_round, user=park.alice, tenant=park.acme, resource=park.xrd) for _ in range(3)]
    globex = [
        ask(week_round, user=park.charlie, tenant=park.globex, resource=park.xrd) for _ in range(3)
    ]
    rnd = close_and_solve(week_round, django_capture_on_commit_callbacks)
    plan_before = rnd.plan
    same = round_what_if(allocation_round=rnd, weights={})
    assert same == []
    changes = round_what_if(allocation_round=rnd, weights={park.acme: 10})
    assert changes
    changed_ids = {c.booking.pk for c in changes}
    assert changed_ids <= {b.pk for b in acme + globex}
    gained = [c for c in changes if c.booking.tenant == park.acme and c.after.granted]
    assert gained and all(not c.before.granted for c in gained)
    rnd.refresh_from_db()
    assert rnd.plan == plan_before  # a preview stores nothing


def test_line_runs_keep_the_changeover_between_recipes(
    park, week_round, django_capture_on_commit_callbacks
):
    import datetime as dt

    sic = ask(
        week_round,
        user=park.alice,
        tenant=park.acme,
        resource=park.line,
        start=0,
        end=24,
        minutes=480,
        recipe="sic",
    )
    gan = ask(
        week_round,
        user=park.charlie,
        tenant=park.globex,
        resource=park.line,
        start=0,
        end=24,
        minutes=480,
        recipe="gan",
    )
    rnd = close_and_solve(week_round, django_capture_on_commit_callbacks)
    publish(rnd, django_capture_on_commit_callbacks)
    _outcomes([sic, gan])
    assert {sic.status, gan.status} == {BookingStatus.CONFIRMED}
    first, second = sorted([sic, gan], key=lambda b: b.start)
    gap = second.start - first.end
    needed = {("sic", "gan"): 360, ("gan", "sic"): 240}[(first.recipe.code, second.recipe.code)]
    assert gap >= dt.timedelta(minutes=needed)


def test_reasons_render_again_from_the_booking_and_the_round_figures(
    park, week_round, django_capture_on_commit_callbacks
):
    from django.template import Context, Template

    from booking.bookings.models import Booking
    from booking.bookings.reasons import reason_for
    from booking.tenancy.models import Period
    from booking.tenancy.services import quota_set

    quota_set(tenant=park.acme, resource_class="instrument", period=Period.WEEK, hours=6)
    made = [ask(week_round, user=park.alice, tenant=park.acme, resource=park.xrd) for _ in range(3)]
    made += [
        ask(week_round, user=park.charlie, tenant=park.globex, resource=park.xrd) for _ in range(4)
    ]
    made.append(
        ask(week_round, user=park.alice, tenant=park.acme, resource=park.xrd, day=2, minutes=480)
    )
    rnd = close_and_solve(week_round, django_capture_on_commit_callbacks)
    publish(rnd, django_capture_on_commit_callbacks)
    rows = (
        Booking.objects.filter(pk__in=[b.pk for b in made])
        .select_related("round", "tenant", "resource", "pool")
        .defer("round__plan")
    )
    codes = set()
    for b in rows:
        codes.add(b.reason_code)
        assert reason_for(b) == b.reason_text
    assert {"quota_exhausted", "quota_exceeds_round"} <= codes
    assert codes & {"capacity_to_fairer_share", "capacity_full"}
    html = Template("{% load round_reasons %}{{ b|round_reason }}").render(Context({"b": rows[0]}))
    assert html.strip()


def test_a_failing_planner_puts_the_round_back_to_closed_with_the_error(
    park, week_round, django_capture_on_commit_callbacks, monkeypatch
):
    import scheduler

    def broken(*args, **kwargs):
        raise scheduler.ProblemError("bad_horizon", "horizon", "must be positive")

    monkeypatch.setattr(scheduler, "solve", broken)
    ask(week_round, user=park.alice, tenant=park.acme, resource=park.xrd)
    rnd = close_and_solve(week_round, django_capture_on_commit_callbacks)
    assert rnd.status == AllocationRound.Status.CLOSED
    assert "horizon" in rnd.solve_error and rnd.plan is None


def test_a_planner_that_died_can_be_run_again_after_a_while(park, week_round):
    import datetime as dt

    from django.utils import timezone

    from booking.errors import Conflict
    from booking.rounds.lifecycle import solve_stale_after
    from booking.rounds.services import round_run_planner

    started = timezone.now()
    AllocationRound.objects.filter(pk=week_round.pk).update(
        status=AllocationRound.Status.SOLVING, solve_started_at=started
    )
    with pytest.raises(Conflict):
        round_run_planner(allocation_round=week_round)
    AllocationRound.objects.filter(pk=week_round.pk).update(
        solve_started_at=started - solve_stale_after(week_round) - dt.timedelta(seconds=1)
    )
    rnd = round_run_planner(allocation_round=week_round)
    assert rnd.status == AllocationRound.Status.SOLVING and rnd.solve_started_at > started


def test_an_empty_round_is_planned_and_published(
    park, week_round, django_capture_on_commit_callbacks
):
    rnd = close_and_solve(week_round, django_capture_on_commit_callbacks)
    assert rnd.status == AllocationRound.Status.SOLVED and rnd.figures["requests"] == 0
    rnd = publish(rnd, django_capture_on_commit_callbacks)
    assert rnd.status == AllocationRound.Status.PUBLISHED


def test_gpu_requests_share_a_node_up_to_its_gpus(
    park, week_round, django_capture_on_commit_callbacks
):
    park.gpu.booking_mode = "round"
    park.gpu.save()
    # The node has 4 GPUs; each request's window is exactly its length, so all want the same time.
    two = ask(
        week_round, user=park.alice, tenant=park.acme, pool=park.pool_gpu, start=10, end=14, units=2
    )
    also_two = ask(
        week_round,
        user=park.charlie,
        tenant=park.globex,
        resource=park.gpu,
        start=10,
        end=14,
        units=2,
    )
    three = ask(
        week_round,
        user=park.charlie,
        tenant=park.globex,
        resource=park.gpu,
        start=10,
        end=14,
        units=3,
    )
    rnd = close_and_solve(week_round, django_capture_on_commit_callbacks)
    publish(rnd, django_capture_on_commit_callbacks)
    _outcomes([two, also_two, three])
    confirmed = [b for b in (two, also_two, three) if b.status == BookingStatus.CONFIRMED]
    assert sum(b.units for b in confirmed) <= 4
    assert two.status == BookingStatus.CONFIRMED and two.resource == park.gpu
    assert not two.exclusive


def test_a_cancellation_stands_when_re_planning_the_waitlist_fails(
    park, week_round, django_capture_on_commit_callbacks, monkeypatch
):
    import scheduler
    from booking.bookings.services import booking_cancel

    made = [ask(week_round, user=park.alice, tenant=park.acme, resource=park.xrd) for _ in range(4)]
    rnd = close_and_solve(week_round, django_capture_on_commit_callbacks)
    publish(rnd, django_capture_on_commit_callbacks)
    granted = [b for b in _outcomes(made) if b.status == BookingStatus.CONFIRMED]

    def broken(**kwargs):
        raise RuntimeError("solver crashed")

    monkeypatch.setattr(scheduler, "replan", lambda *a, **k: broken())
    with django_capture_on_commit_callbacks(execute=True):
        booking_cancel(user=park.alice, booking=granted[0])
    granted[0].refresh_from_db()
    assert granted[0].status == BookingStatus.CANCELLED
    assert rnd.requests.filter(status=BookingStatus.WAITLISTED).count() == 1
