"""Each resource keeps its own time grid in a round: a GPU node booked on the hour is never
planned on the half hour, even when the round's finer slot (for a 30-minute instrument) allows
it, and publishing refuses a plan off a resource's grid as an instant booking would."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

from booking.bookings.models import Booking, BookingStatus
from booking.bookings.rules import slot_errors
from booking.errors import Conflict
from tests.rounds import round_fixtures
from tests.rounds.round_fixtures import ask, close_and_solve, publish

week_round = round_fixtures.week_round

pytestmark = pytest.mark.django_db


def _half_hour_gpu_request(park, rnd):
    park.gpu.booking_mode = "round"
    park.gpu.save()
    # The XRD goes in 30-minute steps, so the round plans in 30-minute slots; the GPU node in
    # hours. The window opens on the half hour.
    ask(rnd, user=park.alice, tenant=park.acme, resource=park.xrd, start=8, end=20, minutes=30)
    return ask(
        rnd,
        user=park.charlie,
        tenant=park.globex,
        resource=park.gpu,
        start=8.5,
        end=20,
        minutes=120,
    )


def test_a_gpu_job_is_planned_on_the_hour_when_the_round_has_half_hour_slots(
    park, week_round, django_capture_on_commit_callbacks
):
    job = _half_hour_gpu_request(park, week_round)
    rnd = close_and_solve(week_round, django_capture_on_commit_callbacks)
    assert rnd.figures["slot_minutes"] == 30
    publish(rnd, django_capture_on_commit_callbacks)
    job = Booking.objects.get(pk=job.pk)
    assert job.status == BookingStatus.CONFIRMED
    local = timezone.localtime(job.start)
    assert (local.hour, local.minute) == (9, 0)  # not 8:30, which an instant booking refuses
    assert not slot_errors(park.gpu, job.start, job.end)


def test_publishing_refuses_a_plan_off_a_resources_grid(
    park, week_round, django_capture_on_commit_callbacks
):
    from booking.rounds.services import round_publish

    job = _half_hour_gpu_request(park, week_round)
    rnd = close_and_solve(week_round, django_capture_on_commit_callbacks)
    plan = dict(rnd.plan)
    outcome = dict(plan["outcomes"][str(job.pk)])
    assert outcome["granted"]
    half = dt.timedelta(minutes=30)
    outcome["start"] = (dt.datetime.fromisoformat(outcome["start"]) - half).isoformat()
    outcome["end"] = (dt.datetime.fromisoformat(outcome["end"]) - half).isoformat()
    plan["outcomes"] = {**plan["outcomes"], str(job.pk): outcome}
    rnd.plan = plan
    rnd.save(update_fields=["plan"])
    with pytest.raises(Conflict) as refused:
        round_publish(allocation_round=rnd)
    assert refused.value.code == "plan_off_grid"
    assert Booking.objects.get(pk=job.pk).status == BookingStatus.REQUESTED  # nothing written
