"""Instant booking rules: every rule refuses with its own code and field, and nothing is written."""

from __future__ import annotations

import datetime as dt

import pytest
from django.core import mail
from django.utils import timezone

from booking.bookings.models import Booking, BookingEvent, BookingStatus
from booking.bookings.rules import booking_check
from booking.bookings.services import booking_cancel, booking_create_instant, booking_transition
from booking.errors import BookingRefused, ParkError
from booking.tenancy.services import quota_set
from resources.models import Recipe, TrainingRecord
from resources.services import maintenance_add


def at(days: int, hour: int, minute: int = 0) -> dt.datetime:
    """Local time ``days`` from today at hour:minute."""
    day = timezone.localdate() + dt.timedelta(days=days)
    return dt.datetime.combine(day, dt.time(hour, minute), tzinfo=timezone.get_current_timezone())


def codes(errors: list[ParkError]) -> set[str]:
    return {e.code for e in errors}


def check(park, **kw):
    args = {
        "user": park.alice,
        "tenant": park.acme,
        "resource": park.confocal,
        "start": at(2, 10),
        "end": at(2, 11),
    }
    args.update(kw)
    return booking_check(**args)


def book(park, **kw):
    args = {
        "user": park.alice,
        "tenant": park.acme,
        "resource": park.confocal,
        "start": at(2, 10),
        "end": at(2, 11),
        "title": "Imaging run",
    }
    args.update(kw)
    return booking_create_instant(**args)


def assert_refused_without_writes(park, code, field=None, **kw):
    before = (Booking.objects.count(), BookingEvent.objects.count(), len(mail.outbox))
    with pytest.raises(ParkError) as info:
        book(park, **kw)
    assert code in {e.code for e in getattr(info.value, "errors", [info.value])}
    if field:
        assert any(
            e.field == field for e in getattr(info.value, "errors", [info.value]) if e.code == code
        )
    assert (Booking.objects.count(), BookingEvent.objects.count(), len(mail.outbox)) == before
    return info.value


def test_a_valid_slot_passes_every_rule(park):
    assert check(park) == []


def test_it_confirms_a_free_slot_at_once_with_event_and_mail(
    park, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        booking = book(park)
    assert booking.status == BookingStatus.CONFIRMED
    assert booking.exclusive is True
    event = BookingEvent.objects.get(booking=booking)
    assert (event.from_status, event.to_status, event.actor) == ("", "confirmed", park.alice)
    assert len(mail.outbox) == 1
    assert mail.outbox[0].to == ["alice@acme.example"]
    assert "Imaging run" in mail.outbox[0].subject


def test_it_refuses_end_before_start(park):
    err = assert_refused_without_writes(
        park, "end_before_start", "end", start=at(2, 11), end=at(2, 10)
    )
    assert "after the start" in err.message


def test_it_refuses_a_start_in_the_past(park):
    assert_refused_without_writes(park, "in_past", "start", start=at(-1, 10), end=at(-1, 11))


def test_it_refuses_too_little_notice(park):
    park.confocal.min_notice_minutes = 3 * 24 * 60
    park.confocal.save()
    assert_refused_without_writes(park, "notice_too_short", "start")


def test_it_refuses_beyond_the_horizon(park):
    assert_refused_without_writes(park, "beyond_horizon", "end", start=at(40, 10), end=at(40, 11))


def test_it_refuses_too_short_and_too_long(park):
    park.confocal.slot_minutes = 10
    park.confocal.save()
    assert_refused_without_writes(park, "too_short", "end", start=at(2, 10), end=at(2, 10, 20))
    assert_refused_without_writes(park, "too_long", "end", start=at(2, 10), end=at(2, 15))


def test_it_refuses_times_off_the_slot_grid(park):
    assert_refused_without_writes(park, "not_on_slot", "start", start=at(2, 10, 15), end=at(2, 11))


def test_it_refuses_outside_opening_hours(park):
    assert_refused_without_writes(
        park, "outside_opening_hours", "start", start=at(2, 19), end=at(2, 21)
    )


def test_it_refuses_a_line_outside_technician_shifts(park):
    from resources.models import WeeklyHours

    WeeklyHours.objects.filter(resource=park.line).update(opens=dt.time(8), closes=dt.time(16))
    errors = check(
        park,
        resource=park.line,
        start=at(2, 14),
        end=at(2, 18),
        recipe=Recipe.objects.get(line=park.line, code="sic"),
    )
    assert "outside_shift" in codes(errors)


def test_a_line_staffed_round_the_clock_accepts_a_run_across_midnight(park):
    errors = check(
        park,
        resource=park.line,
        start=at(2, 20),
        end=at(3, 4),
        recipe=Recipe.objects.get(line=park.line, code="sic"),
    )
    assert "outside_shift" not in codes(errors)


def test_it_refuses_a_line_run_without_recipe_or_with_another_lines_recipe(park):
    assert "recipe_required" in codes(
        check(park, resource=park.line, start=at(2, 8), end=at(2, 12))
    )
    other = Recipe.objects.create(line=park.gpu, code="x", name="X")
    assert "recipe_unknown" in codes(
        check(park, resource=park.line, start=at(2, 8), end=at(2, 12), recipe=other)
    )


def test_it_refuses_during_maintenance(park):
    maintenance_add(resource=park.confocal, start=at(2, 9), end=at(2, 12), reason="laser service")
    assert_refused_without_writes(park, "maintenance", "start")


def test_it_refuses_booking_without_training(park):
    assert_refused_without_writes(park, "training_required", "resource", user=park.bob)


def test_it_refuses_when_the_training_expires_before_the_booking_day(park):
    TrainingRecord.objects.filter(user=park.alice).update(
        expires_on=timezone.localdate() + dt.timedelta(days=1)
    )
    assert_refused_without_writes(park, "training_required", "resource")


def test_it_refuses_a_user_who_is_not_a_member_of_the_tenant(park):
    assert_refused_without_writes(park, "not_member", "tenant", tenant=park.globex)


def test_it_refuses_more_units_than_capacity(park):
    assert_refused_without_writes(
        park,
        "units_over_capacity",
        "units",
        resource=park.gpu,
        units=5,
        start=at(2, 10),
        end=at(2, 12),
    )


def test_it_refuses_an_overlapping_booking_of_an_exclusive_resource(park):
    book(park)
    err = assert_refused_without_writes(
        park,
        "slot_taken",
        "start",
        start=at(2, 10, 30),
        end=at(2, 11, 30),
        user=park.charlie,
        tenant=park.globex,
    )
    assert err.status == 409


def test_back_to_back_bookings_do_not_overlap(park):
    book(park)
    assert book(park, start=at(2, 11), end=at(2, 12)).status == "confirmed"


def test_a_gpu_node_takes_bookings_until_its_gpus_are_used_up(park):
    book(park, resource=park.gpu, units=2, start=at(2, 10), end=at(2, 14))
    book(
        park,
        resource=park.gpu,
        units=1,
        start=at(2, 12),
        end=at(2, 16),
        user=park.charlie,
        tenant=park.globex,
    )
    # 3 GPUs held 12–14: one more fits, two do not.
    assert check(park, resource=park.gpu, units=1, start=at(2, 13), end=at(2, 15)) == []
    assert "slot_taken" in codes(
        check(park, resource=park.gpu, units=2, start=at(2, 13), end=at(2, 15))
    )
    # Outside the overlap two fit again.
    assert check(park, resource=park.gpu, units=2, start=at(2, 14), end=at(2, 16)) == []


def test_it_refuses_over_quota_counting_gpu_hours(park):
    quota_set(tenant=park.acme, resource_class="gpu", period="week", hours=10)
    monday = timezone.localdate() + dt.timedelta(days=7 - timezone.localdate().weekday())
    tz = timezone.get_current_timezone()
    start = dt.datetime.combine(monday, dt.time(9), tzinfo=tz)
    # 2 GPUs × 4 h = 8 GPU-hours: fits in 10.
    book(park, resource=park.gpu, units=2, start=start, end=start + dt.timedelta(hours=4))
    # Another 2 × 2 h = 4 would make 12 > 10.
    err = assert_refused_without_writes(
        park,
        "quota_exceeded",
        "end",
        resource=park.gpu,
        units=2,
        start=start + dt.timedelta(hours=5),
        end=start + dt.timedelta(hours=7),
    )
    assert "2" in err.message
    # The same booking by the other tenant is fine: quotas are per tenant.
    book(
        park,
        resource=park.gpu,
        units=2,
        user=park.charlie,
        tenant=park.globex,
        start=start + dt.timedelta(hours=5),
        end=start + dt.timedelta(hours=7),
    )


def test_quota_is_checked_in_every_period_the_booking_touches(park):
    quota_set(tenant=park.acme, resource_class="gpu", period="week", hours=5)
    monday = timezone.localdate() + dt.timedelta(days=14 - timezone.localdate().weekday())
    tz = timezone.get_current_timezone()
    sunday_evening = dt.datetime.combine(monday - dt.timedelta(days=1), dt.time(22), tzinfo=tz)
    # Fill the next week's quota, then a booking across Sunday midnight must be refused there.
    book(
        park,
        resource=park.gpu,
        units=1,
        start=dt.datetime.combine(monday, dt.time(10), tzinfo=tz),
        end=dt.datetime.combine(monday, dt.time(15), tzinfo=tz),
    )
    errors = check(
        park,
        resource=park.gpu,
        units=1,
        start=sunday_evening,
        end=sunday_evening + dt.timedelta(hours=4),
    )
    assert "quota_exceeded" in codes(errors)


def test_it_refuses_an_instant_booking_of_a_round_resource(park):
    assert_refused_without_writes(park, "round_booked", "resource", resource=park.xrd)


def test_it_refuses_an_empty_title(park):
    assert_refused_without_writes(park, "title_required", "title", title="  ")


def test_every_broken_rule_is_reported_at_once(park):
    errors = check(park, user=park.bob, start=at(2, 19, 15), end=at(2, 23, 45))
    assert {"training_required", "not_on_slot", "outside_opening_hours", "too_long"} <= codes(
        errors
    )
    assert all(e.field for e in errors)


def test_refusal_carries_every_error_for_the_api(park):
    with pytest.raises(BookingRefused) as info:
        book(park, user=park.bob, start=at(2, 19), end=at(2, 21))
    data = info.value.as_dict()
    assert data["code"] == info.value.errors[0].code
    assert {e["code"] for e in data["errors"]} == {"training_required", "outside_opening_hours"}


# ---- cancellation and transitions -------------------------------------------------------


def test_owner_cancels_and_the_event_records_who(park, django_capture_on_commit_callbacks):
    booking = book(park)
    with django_capture_on_commit_callbacks(execute=True):
        booking_cancel(user=park.alice, booking=booking)
    booking.refresh_from_db()
    assert booking.status == "cancelled"
    event = booking.events.order_by("-id").first()
    assert (event.from_status, event.to_status, event.actor) == (
        "confirmed",
        "cancelled",
        park.alice,
    )
    assert any("Cancelled" in m.subject for m in mail.outbox)


def test_manager_may_cancel_a_members_booking(park):
    booking = book(park)
    booking_cancel(user=park.bob, booking=booking)
    assert Booking.objects.get(pk=booking.pk).status == "cancelled"


def test_other_tenant_cannot_cancel_and_gets_not_found(park):
    booking = book(park)
    with pytest.raises(ParkError) as info:
        booking_cancel(user=park.charlie, booking=booking)
    assert info.value.status == 404
    assert Booking.objects.get(pk=booking.pk).status == "confirmed"


def test_a_started_booking_cannot_be_cancelled(park):
    booking = book(park)
    with pytest.raises(ParkError) as info:
        booking_cancel(
            user=park.alice, booking=booking, now=booking.start + dt.timedelta(minutes=5)
        )
    assert info.value.code == "already_started"
    assert Booking.objects.get(pk=booking.pk).status == "confirmed"


def test_a_cancelled_booking_cannot_be_cancelled_again(park):
    booking = book(park)
    booking_cancel(user=park.alice, booking=booking)
    stale = Booking.objects.get(pk=booking.pk)
    with pytest.raises(ParkError) as info:
        booking_cancel(user=park.alice, booking=stale)
    assert info.value.code == "transition_not_allowed"


def test_transition_is_compare_and_set(park):
    booking = book(park)
    stale = Booking.objects.get(pk=booking.pk)
    booking_transition(booking=booking, to_status="completed")
    with pytest.raises(ParkError) as info:
        booking_transition(booking=stale, to_status="cancelled", actor=park.alice)
    assert info.value.code == "status_changed"
    assert Booking.objects.get(pk=booking.pk).status == "completed"
    assert BookingEvent.objects.filter(booking=booking).count() == 2


def test_cancelled_time_is_free_again(park):
    booking = book(park)
    booking_cancel(user=park.alice, booking=booking)
    assert book(park, user=park.charlie, tenant=park.globex).status == "confirmed"
