"""Park-wide closures: one declaration closes every resource of a building, a kind or the park;
the bookings it covers are cancelled with notice in the reader's language; new bookings and
allocation rounds treat it as maintenance."""

from __future__ import annotations

import datetime as dt

import pytest
from django.contrib.auth import get_user_model
from django.utils import timezone, translation

from booking.bookings.closures import closure_declare
from booking.bookings.models import Booking, BookingStatus
from booking.bookings.reasons import reason_for
from booking.bookings.rules import booking_check
from booking.errors import ParkError
from booking.tenancy.services import language_remember
from resources.models import Location, MaintenanceWindow
from tests.bookings.test_views_booking import at, book
from tests.rounds import round_fixtures

week_round = round_fixtures.week_round

pytestmark = pytest.mark.django_db


@pytest.fixture
def operator(park):
    return get_user_model().objects.create_superuser("op", "op@park.example", "pw")


def test_typhoon_closure_over_a_building_cancels_its_bookings_with_notice(
    park, operator, mailoutbox, django_capture_on_commit_callbacks
):
    building = Location.objects.get(name="Test park")  # the room with every resource is inside
    language_remember(user=park.alice, language="zh-hant")
    inside = book(park, start=at(2, 10))
    started = Booking.objects.create(
        tenant=park.globex,
        user=park.charlie,
        resource=park.confocal,
        title="live",
        start=timezone.now() - dt.timedelta(minutes=30),
        end=timezone.now() + dt.timedelta(hours=2),
        status=BookingStatus.IN_USE,
    )
    after = book(park, start=at(4, 10))
    with django_capture_on_commit_callbacks(execute=True):
        result = closure_declare(
            actor=operator,
            reason="Typhoon signal No. 8",
            start=at(0, 0),
            end=at(3, 0),
            location=building,
        )
    assert {r.slug for r in result.resources} == {"gpu01", "confocal-1", "xrd", "epi"}
    assert MaintenanceWindow.objects.filter(closure=result.closure).count() == 4
    assert result.cancelled == [inside.pk]
    inside.refresh_from_db()
    assert inside.status == BookingStatus.CANCELLED and inside.reason_code == "closure"
    assert Booking.objects.get(pk=after.pk).status == BookingStatus.CONFIRMED
    assert Booking.objects.get(pk=started.pk).status == BookingStatus.IN_USE
    # The notice: the cancellation e-mail, in alice's language, naming the closure.
    assert len(mailoutbox) == 1 and mailoutbox[0].to == ["alice@acme.example"]
    assert "Typhoon signal No. 8" in mailoutbox[0].body and "取消" in mailoutbox[0].body
    with translation.override("zh-hans"):
        assert "Typhoon signal No. 8" in reason_for(inside) and "园区" in reason_for(inside)
    assert "園區" in mailoutbox[0].body
    # Booking inside the closure again is refused as maintenance.
    errors = booking_check(
        user=park.alice,
        tenant=park.acme,
        resource=park.confocal,
        start=at(2, 10),
        end=at(2, 11),
    )
    assert "maintenance" in {e.code for e in errors}


def test_a_closure_of_one_kind_leaves_the_others(park, operator):
    gpu = book(park, resource=park.gpu, start=at(2, 10))
    confocal = book(park, start=at(2, 10))
    result = closure_declare(
        actor=operator, reason="Public holiday", start=at(2, 0), end=at(3, 0), kind="gpu"
    )
    assert [r.slug for r in result.resources] == ["gpu01"]
    assert Booking.objects.get(pk=gpu.pk).status == BookingStatus.CANCELLED
    assert Booking.objects.get(pk=confocal.pk).status == BookingStatus.CONFIRMED


def test_only_operators_declare_closures_and_nothing_is_half_written(park):
    with pytest.raises(ParkError) as refused:
        closure_declare(actor=park.bob, reason="x", start=at(2, 0), end=at(3, 0))
    assert refused.value.code == "operators_only"
    assert not MaintenanceWindow.objects.exists()


def test_rounds_plan_around_a_closure(park, operator, week_round):
    from booking.rounds.adapter import round_problem_build

    rnd = week_round

    def xrd_maintenance():
        problem = round_problem_build(allocation_round=rnd).problem
        return next(r for r in problem.resources if r.id == "xrd").maintenance

    before = xrd_maintenance()
    start = rnd.period_start + dt.timedelta(days=1)
    closure_declare(
        actor=operator, reason="Black rainstorm", start=start, end=start + dt.timedelta(hours=6)
    )
    assert len(xrd_maintenance()) == len(before) + 1


def test_an_operator_declares_a_closure_in_the_admin(park, operator, client):
    booking = book(park, start=at(2, 10))
    client.force_login(operator)
    response = client.post(
        "/admin/resources/closure/add/",
        {
            "reason": "Typhoon signal No. 8",
            "start_0": at(2, 0).strftime("%Y-%m-%d"),
            "start_1": "00:00",
            "end_0": at(3, 0).strftime("%Y-%m-%d"),
            "end_1": "00:00",
            "location": "",
            "kind": "",
            "handling": "cancel",
        },
    )
    assert response.status_code == 302, response.content.decode()[:3000]
    assert Booking.objects.get(pk=booking.pk).status == BookingStatus.CANCELLED
    assert MaintenanceWindow.objects.filter(closure__isnull=False).count() == 4


def test_a_closure_that_moves_puts_each_booking_at_the_first_free_time_after_it(
    park, operator, mailoutbox, django_capture_on_commit_callbacks
):
    language_remember(user=park.alice, language="zh-hant")
    displaced = book(park, start=at(2, 10), hours=2, title="displaced")
    # The confocal opens at 08:00; the first free hour after the closure is taken by another
    # booking, so the move goes after it.
    taken = book(park, start=at(3, 8), title="already there")
    with django_capture_on_commit_callbacks(execute=True):
        result = closure_declare(
            actor=operator,
            reason="Black rainstorm",
            start=at(2, 0),
            end=at(3, 0),
            handling="move",
        )
    assert result.moved == [displaced.pk] and result.cancelled == []
    displaced.refresh_from_db()
    assert displaced.status == BookingStatus.CONFIRMED
    assert (displaced.start, displaced.end) == (at(3, 9), at(3, 11))
    assert displaced.reason_code == "closure_moved"
    assert Booking.objects.get(pk=taken.pk).start == at(3, 8)
    assert displaced.events.filter(note__startswith="times ").count() == 1
    # alice is told in her language why and where it went.
    assert [m.to for m in mailoutbox] == [["alice@acme.example"]]
    assert "Black rainstorm" in mailoutbox[0].body
    with translation.override("en"):
        assert "Moved out of the park's closure" in reason_for(displaced)


def test_a_booking_that_cannot_move_is_cancelled_and_offered_the_first_free_time(
    park, operator, mailoutbox, django_capture_on_commit_callbacks, settings
):
    displaced = book(park, start=at(2, 10), hours=2)
    settings.PARK_CLOSURE_MOVE_DAYS = 0  # nowhere to go within the search window
    with django_capture_on_commit_callbacks(execute=True):
        result = closure_declare(
            actor=operator,
            reason="Typhoon signal No. 8",
            start=at(2, 0),
            end=at(3, 0),
            handling="move",
        )
    assert result.moved == [] and result.cancelled == [displaced.pk]
    assert Booking.objects.get(pk=displaced.pk).status == BookingStatus.CANCELLED
    # Cancelled by default handling, with a free time to book again named in the notice.
    settings.PARK_CLOSURE_MOVE_DAYS = 14
    other = book(park, start=at(5, 10), hours=2)
    with django_capture_on_commit_callbacks(execute=True):
        closure_declare(actor=operator, reason="Public holiday", start=at(5, 0), end=at(6, 0))
    other.refresh_from_db()
    assert other.status == BookingStatus.CANCELLED
    with translation.override("en"):
        text = reason_for(other)
    assert "Public holiday" in text and "first free time" in text
    from booking.formats import when_text

    with translation.override("en"):
        assert when_text(at(6, 8)) in text and when_text(at(6, 10)) in text
    assert "first free time" in mailoutbox[-1].body or "book it again" in mailoutbox[-1].body


def test_an_unknown_handling_is_refused_and_nothing_is_written(park, operator):
    with pytest.raises(ParkError) as refused:
        closure_declare(actor=operator, reason="x", start=at(2, 0), end=at(3, 0), handling="shrug")
    assert refused.value.code == "handling_unknown" and refused.value.field == "handling"
    assert not MaintenanceWindow.objects.exists()
