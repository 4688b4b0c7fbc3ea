"""POST /bookings/{id}/check-in, /check-out and GET /usage: codes, tenancy, figures."""

from __future__ import annotations

import datetime as dt

import pytest
import time_machine

from booking.bookings.models import BookingStatus
from booking.usage.models import BookingUsage
from tests.usage.conftest import book, local

pytestmark = pytest.mark.django_db

MIN = dt.timedelta(minutes=1)


def test_check_in_then_early_check_out_through_the_api(park, alice_api):
    b = book(park, start=local(2, 10), minutes=180)
    with time_machine.travel(b.start - 10 * MIN, tick=False):
        r = alice_api.post(f"/bookings/{b.pk}/check-in")
    assert r.status_code == 200, r.content
    assert r.json()["status"] == "in_use"
    assert r.json()["checked_in_at"] is not None
    with time_machine.travel(b.start + 40 * MIN, tick=False):
        r = alice_api.post(f"/bookings/{b.pk}/check-out")
    assert r.status_code == 200, r.content
    body = r.json()
    assert body["status"] == "completed"
    assert dt.datetime.fromisoformat(body["end"]) == local(2, 11)
    assert dt.datetime.fromisoformat(body["booked_end"]) == local(2, 13)
    assert body["used_hours"] == pytest.approx(50 / 60, abs=1e-4)


@pytest.mark.parametrize(
    ("offset", "code", "status"),
    [(-16, "check_in_not_open", 400), (16, "check_in_closed", 400)],
)
def test_check_in_outside_the_window_answers_a_stable_code(park, alice_api, offset, code, status):
    b = book(park, start=local(2, 10))
    with time_machine.travel(b.start + offset * MIN, tick=False):
        r = alice_api.post(f"/bookings/{b.pk}/check-in")
    assert r.status_code == status
    assert r.json()["code"] == code
    assert r.json()["field"] == "booking"
    b.refresh_from_db()
    assert b.status == BookingStatus.CONFIRMED


def test_state_errors_are_409(park, alice_api):
    b = book(park, start=local(2, 10))
    with time_machine.travel(b.start, tick=False):
        assert alice_api.post(f"/bookings/{b.pk}/check-out").json()["code"] == "not_checked_in"
        alice_api.post(f"/bookings/{b.pk}/check-in")
        r = alice_api.post(f"/bookings/{b.pk}/check-in")
    assert (r.status_code, r.json()["code"]) == (409, "already_checked_in")


def test_another_tenant_gets_404_for_check_in_and_check_out(park, charlie_api):
    b = book(park, start=local(2, 10))
    with time_machine.travel(b.start, tick=False):
        for action in ("check-in", "check-out"):
            r = charlie_api.post(f"/bookings/{b.pk}/{action}")
            assert r.status_code == 404
            assert r.json()["code"] == "not_found"
    b.refresh_from_db()
    assert b.status == BookingStatus.CONFIRMED
    assert not BookingUsage.objects.filter(booking=b).exists()


def test_a_manager_may_check_in_a_members_booking(park, bob_api):
    b = book(park, start=local(2, 10))
    with time_machine.travel(b.start, tick=False):
        r = bob_api.post(f"/bookings/{b.pk}/check-in")
    assert r.status_code == 200
    assert BookingUsage.objects.get(booking=b).checked_in_by == park.bob


def test_usage_sums_booked_used_and_no_show_hours_per_class(
    park, alice_api, charlie_api, django_capture_on_commit_callbacks
):
    from booking.usage.tasks import usage_sweep_task

    used = book(park, start=local(2, 10), minutes=120)
    missed = book(park, start=local(2, 13), minutes=90)
    gpu = book(park, start=local(2, 10), minutes=120, resource=park.gpu, units=2)
    book(park, start=local(2, 15), minutes=60, user=park.charlie, tenant=park.globex)
    with time_machine.travel(used.start, tick=False):
        alice_api.post(f"/bookings/{used.pk}/check-in")
    with time_machine.travel(used.start + 45 * MIN, tick=False):
        alice_api.post(f"/bookings/{used.pk}/check-out")
    with (
        time_machine.travel(missed.start + 20 * MIN, tick=False),
        django_capture_on_commit_callbacks(execute=True),
    ):
        usage_sweep_task()
    day = local(2, 0).date()
    params = {"start": day.isoformat(), "end": (day + dt.timedelta(days=1)).isoformat()}
    r = alice_api.get("/usage", params)
    assert r.status_code == 200, r.content
    body = r.json()
    assert body["tenant"] == "acme"
    by_class = {c["resource_class"]: c for c in body["classes"]}
    instrument = by_class["instrument"]
    # Booked as booked (2 h + 1.5 h), used 45 min, the 1.5 h no-show.
    assert instrument["booked_hours"] == pytest.approx(3.5)
    assert instrument["used_hours"] == pytest.approx(0.75)
    assert instrument["no_show_hours"] == pytest.approx(1.5)
    assert (instrument["bookings"], instrument["no_shows"]) == (2, 1)
    assert by_class["gpu"]["booked_hours"] == pytest.approx(4.0)  # 2 GPUs × 2 h, still open
    assert by_class["gpu"]["used_hours"] == 0
    assert gpu.pk  # the GPU booking has not ended
    # Globex sees only its own hour.
    other = {c["resource_class"]: c for c in charlie_api.get("/usage", params).json()["classes"]}
    assert other["instrument"]["booked_hours"] == pytest.approx(1.0)
    assert other["instrument"]["used_hours"] == 0


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"start": "2026-12-02", "end": "2026-12-01"}, "end"),
        ({"start": "2026-01-01", "end": "2027-06-01"}, "end"),
        ({"start": "nope", "end": "2026-12-01"}, "start"),
        ({"end": "2026-12-01"}, "start"),
        ({"start": "0001-01-01", "end": "0001-12-01"}, "start"),  # far-off years overflowed (500)
    ],
)
def test_usage_refuses_a_bad_period_naming_the_field(park, alice_api, params, field):
    r = alice_api.get("/usage", params)
    assert r.status_code == 422
    assert r.json()["field"] == field
