"""Recurring bookings through the API: every occurrence is checked like one instant booking."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

from booking.bookings.models import Booking, BookingSeries, BookingStatus
from booking.bookings.recurrence import Recurrence
from resources.models import MaintenanceWindow
from tests.api.conftest import assert_error, next_hour

pytestmark = pytest.mark.django_db


def confocal(start, *, hours=1, **recurrence):
    return {
        "resource": "confocal-1",
        "title": "imaging",
        "start": start.isoformat(),
        "end": (start + dt.timedelta(hours=hours)).isoformat(),
        "recurrence": recurrence,
    }


def _monday_ahead(days=7, hour=8):
    start = next_hour(days=days, hour=hour)
    return start + dt.timedelta(days=(7 - start.weekday()) % 7)


def test_daily_series_books_every_occurrence_linked_to_one_series(alice_api):
    start = next_hour(days=1, hour=10)
    response = alice_api.post("/bookings", confocal(start, freq="daily", count=4))
    assert response.status_code == 201, response.content
    body = response.json()
    series = BookingSeries.objects.get()
    assert body["series"] == series.pk and series.rule == "FREQ=DAILY;COUNT=4"
    starts = [b.start for b in Booking.objects.filter(series=series).order_by("start")]
    assert starts == [start + dt.timedelta(days=i) for i in range(4)]
    detail = alice_api.get(f"/series/{series.pk}").json()
    assert [o["status"] for o in detail["occurrences"]] == ["confirmed"] * 4
    assert detail["skipped"] == []


def test_weekly_by_day_until_a_date(alice_api):
    start = _monday_ahead(hour=10)
    until = (start + dt.timedelta(days=9)).date()  # the second week's Wednesday
    response = alice_api.post(
        "/bookings", confocal(start, freq="weekly", by_day=["MO", "WE"], until=until.isoformat())
    )
    assert response.status_code == 201, response.content
    days = [
        timezone.localtime(b.start).date() - start.date() for b in Booking.objects.order_by("start")
    ]
    assert days == [dt.timedelta(days=d) for d in (0, 2, 7, 9)]
    assert BookingSeries.objects.get().rule.endswith(f"UNTIL={until:%Y%m%d};BYDAY=MO,WE")


def test_maintenance_inside_the_series_refuses_it_whole_and_stores_nothing(alice_api, park):
    start = next_hour(days=2, hour=10)
    third = start + dt.timedelta(days=2)
    MaintenanceWindow.objects.create(
        resource=park.confocal,
        start=third - dt.timedelta(hours=1),
        end=third + dt.timedelta(hours=3),
    )
    body = assert_error(
        alice_api.post("/bookings", confocal(start, freq="daily", count=5)), 400, "maintenance"
    )
    assert [d["code"] for d in body["details"]] == ["maintenance"]
    assert "occurrence 3" in body["details"][0]["message"]
    assert not Booking.objects.exists() and not BookingSeries.objects.exists()


def test_skip_conflicts_books_the_free_ones_and_lists_the_others(alice_api, charlie_api, park):
    start = next_hour(days=2, hour=10)
    third = start + dt.timedelta(days=2)
    MaintenanceWindow.objects.create(
        resource=park.confocal, start=third, end=third + dt.timedelta(hours=1)
    )
    taken = start + dt.timedelta(days=1)
    assert charlie_api.post("/bookings", confocal(taken) | {"recurrence": None}).status_code == 201
    response = alice_api.post(
        "/bookings", confocal(start, freq="daily", count=5, skip_conflicts=True)
    )
    assert response.status_code == 201, response.content
    series = BookingSeries.objects.get()
    booked = sorted(b.start for b in Booking.objects.filter(series=series))
    assert booked == [start, start + dt.timedelta(days=3), start + dt.timedelta(days=4)]
    skipped = alice_api.get(f"/series/{series.pk}").json()["skipped"]
    assert [dt.datetime.fromisoformat(s["start"]) for s in skipped] == [taken, third]
    assert [s["errors"][0]["code"] for s in skipped] == ["slot_taken", "maintenance"]


def test_a_conflict_without_skip_conflicts_refuses_the_series(alice_api, charlie_api):
    start = next_hour(days=2, hour=10)
    taken = start + dt.timedelta(days=1)
    assert charlie_api.post("/bookings", confocal(taken) | {"recurrence": None}).status_code == 201
    assert_error(
        alice_api.post("/bookings", confocal(start, freq="daily", count=3)), 409, "slot_taken"
    )
    assert Booking.objects.count() == 1 and not BookingSeries.objects.exists()


def test_last_occurrence_beyond_the_horizon(alice_api):
    start = next_hour(days=1, hour=10)  # weekly ×5: day 1, 8, 15, 22, 29 — the horizon is 28 days
    body = assert_error(
        alice_api.post("/bookings", confocal(start, freq="weekly", count=5)), 400, "beyond_horizon"
    )
    assert len(body["details"]) == 1 and "occurrence 5" in body["details"][0]["message"]
    response = alice_api.post(
        "/bookings", confocal(start, freq="weekly", count=5, skip_conflicts=True)
    )
    assert response.status_code == 201
    assert Booking.objects.count() == 4


def test_quota_counts_the_occurrences_booked_before_in_the_series(alice_api):
    # 4 GPUs × 10 h = 40 GPU-hours a day; the weekly quota is 100: the third day is too much.
    start = _monday_ahead(hour=8)
    payload = {
        "resource": "gpu01",
        "title": "training run",
        "units": 4,
        "start": start.isoformat(),
        "end": (start + dt.timedelta(hours=10)).isoformat(),
        "recurrence": {"freq": "daily", "count": 3},
    }
    body = assert_error(alice_api.post("/bookings", payload), 400, "quota_exceeded")
    assert "occurrence 3" in body["message"]
    assert not Booking.objects.exists()
    payload["recurrence"]["skip_conflicts"] = True
    assert alice_api.post("/bookings", payload).status_code == 201
    assert Booking.objects.filter(status=BookingStatus.CONFIRMED).count() == 2


def test_no_free_occurrence_refuses_even_with_skip_conflicts(alice_api):
    start = next_hour(days=40, hour=10)
    assert_error(
        alice_api.post("/bookings", confocal(start, freq="daily", count=2, skip_conflicts=True)),
        400,
        "beyond_horizon",
    )
    assert not BookingSeries.objects.exists()


def test_cancel_one_occurrence_or_all_following(alice_api):
    start = next_hour(days=1, hour=10)
    alice_api.post("/bookings", confocal(start, freq="daily", count=5))
    ids = list(Booking.objects.order_by("start").values_list("pk", flat=True))
    assert alice_api.post(f"/bookings/{ids[1]}/cancel").status_code == 200
    response = alice_api.post(f"/bookings/{ids[3]}/cancel-following")
    assert response.status_code == 200, response.content
    statuses = [o["status"] for o in response.json()["occurrences"]]
    assert statuses == ["confirmed", "cancelled", "confirmed", "cancelled", "cancelled"]


def test_cancel_following_of_a_single_booking_is_refused(alice_api):
    response = alice_api.post("/bookings", confocal(next_hour(days=1)) | {"recurrence": None})
    assert_error(
        alice_api.post(f"/bookings/{response.json()['id']}/cancel-following"), 409, "not_in_series"
    )


def test_other_tenants_see_no_series(alice_api, charlie_api):
    start = next_hour(days=1, hour=10)
    booking_id = alice_api.post("/bookings", confocal(start, freq="daily", count=2)).json()["id"]
    series_id = BookingSeries.objects.get().pk
    assert_error(charlie_api.get(f"/series/{series_id}"), 404, "not_found")
    assert_error(charlie_api.post(f"/bookings/{booking_id}/cancel-following"), 404, "not_found")
    assert Booking.objects.filter(status=BookingStatus.CONFIRMED).count() == 2


@pytest.mark.parametrize(
    "recurrence, field",
    [
        ({"freq": "daily"}, "recurrence.count"),
        ({"freq": "daily", "count": 2, "until": "2099-01-01"}, "recurrence.count"),
        ({"freq": "weekly", "count": 2, "by_day": ["SU"]}, "recurrence.by_day"),
        ({"freq": "daily", "count": 2, "by_day": ["MO"]}, "recurrence.by_day"),
        ({"freq": "daily", "until": "2000-01-01"}, "recurrence.until"),
    ],
)
def test_bad_rules_are_refused_naming_the_part(alice_api, recurrence, field):
    start = _monday_ahead(hour=10)
    payload = confocal(start) | {"recurrence": recurrence}
    assert_error(alice_api.post("/bookings", payload), 422, "recurrence_invalid", field)
    assert not BookingSeries.objects.exists()


def test_recurrence_is_only_for_instant_bookings(alice_api):
    start = next_hour(days=3)
    payload = {
        "resource": "xrd",
        "title": "scan",
        "earliest_start": start.isoformat(),
        "latest_end": (start + dt.timedelta(hours=4)).isoformat(),
        "duration_minutes": 60,
        "recurrence": {"freq": "daily", "count": 2},
    }
    assert_error(alice_api.post("/bookings", payload), 422, "field_not_applicable", "recurrence")


def test_rrule_text_and_local_wall_clock():
    rule = Recurrence(freq="weekly", interval=2, count=3, by_day=("WE", "MO"))
    assert rule.rrule() == "FREQ=WEEKLY;INTERVAL=2;COUNT=3;BYDAY=MO,WE"
    start = timezone.make_aware(dt.datetime(2030, 1, 7, 9, 30))  # a Monday
    got = rule.occurrences(start, start + dt.timedelta(hours=2))
    assert [timezone.localtime(s).date().isoformat() for s, _e in got] == [
        "2030-01-07",
        "2030-01-09",
        "2030-01-21",
    ]
    assert all(timezone.localtime(s).time() == dt.time(9, 30) for s, _e in got)
