"""The check-in panel on a booking's page (htmx), the kiosk with a PIN, and tenancy."""

from __future__ import annotations

import datetime as dt

import pytest
import time_machine
from django.test import Client

from booking.bookings.models import BookingStatus
from booking.usage.kiosk import kiosk_pin_set
from booking.usage.models import KioskPin
from tests.usage.conftest import book, local

pytestmark = pytest.mark.django_db

MIN = dt.timedelta(minutes=1)
HTMX = {"HX-Request": "true"}


def _client(user) -> Client:
    c = Client()
    c.force_login(user)
    return c


def test_the_booking_page_shows_a_check_in_button_in_the_window_and_htmx_swaps_the_panel(park):
    b = book(park, start=local(2, 10))
    alice = _client(park.alice)
    with time_machine.travel(b.start - 30 * MIN, tick=False):
        page = alice.get(f"/bookings/{b.pk}/").content.decode()
    assert 'data-testid="check-in"' not in page
    assert "Check in between" in page
    with time_machine.travel(b.start - 5 * MIN, tick=False):
        page = alice.get(f"/bookings/{b.pk}/").content.decode()
        assert 'data-testid="check-in"' in page
        r = alice.post(f"/bookings/{b.pk}/check-in", headers=HTMX)
    assert r.status_code == 200
    assert 'id="usage-panel"' in r.content.decode()
    assert 'data-testid="check-out"' in r.content.decode()
    b.refresh_from_db()
    assert b.status == BookingStatus.IN_USE
    with time_machine.travel(b.start + 20 * MIN, tick=False):
        r = alice.post(f"/bookings/{b.pk}/check-out")  # without htmx: back to the page
    assert r.status_code == 302 and r["Location"] == f"/bookings/{b.pk}/"
    b.refresh_from_db()
    assert b.status == BookingStatus.COMPLETED


def test_a_refused_check_in_shows_the_rule_in_the_panel(park):
    b = book(park, start=local(2, 10))
    with time_machine.travel(b.start - 40 * MIN, tick=False):
        r = _client(park.alice).post(f"/bookings/{b.pk}/check-in", headers=HTMX)
    assert r.status_code == 200
    assert "Check-in opens at" in r.content.decode()
    b.refresh_from_db()
    assert b.status == BookingStatus.CONFIRMED


def test_another_tenant_gets_404_on_the_panel_and_the_buttons(park):
    b = book(park, start=local(2, 10))
    charlie = _client(park.charlie)
    with time_machine.travel(b.start, tick=False):
        assert charlie.get(f"/bookings/{b.pk}/usage").status_code == 404
        assert charlie.post(f"/bookings/{b.pk}/check-in").status_code == 404
        assert charlie.post(f"/bookings/{b.pk}/check-out").status_code == 404
    b.refresh_from_db()
    assert b.status == BookingStatus.CONFIRMED


def test_the_kiosk_checks_in_with_the_owners_pin_and_refuses_a_wrong_one(park):
    kiosk_pin_set(user=park.alice, pin="4821")
    b = book(park, start=local(2, 10))
    tablet = Client()
    with time_machine.travel(b.start - 10 * MIN, tick=False):
        page = tablet.get("/kiosk/confocal-1/").content.decode()
        assert "Alice" in page and "alice@acme.example" not in page
        r = tablet.post(f"/kiosk/confocal-1/{b.pk}/check-in", {"pin": "0000"}, headers=HTMX)
        assert "Wrong PIN" in r.content.decode()
        b.refresh_from_db()
        assert b.status == BookingStatus.CONFIRMED
        r = tablet.post(f"/kiosk/confocal-1/{b.pk}/check-in", {"pin": "4821"}, headers=HTMX)
    assert "Checked in" in r.content.decode()
    b.refresh_from_db()
    assert b.status == BookingStatus.IN_USE
    assert KioskPin.objects.get(user=park.alice).failed_attempts == 0


def test_five_wrong_pins_lock_the_pin(park):
    kiosk_pin_set(user=park.alice, pin="4821")
    b = book(park, start=local(2, 10))
    tablet = Client()
    with time_machine.travel(b.start, tick=False):
        for _ in range(5):
            tablet.post(f"/kiosk/confocal-1/{b.pk}/check-in", {"pin": "1111"})
        r = tablet.post(f"/kiosk/confocal-1/{b.pk}/check-in", {"pin": "4821"})
    assert "Locked after too many tries" in r.content.decode()
    b.refresh_from_db()
    assert b.status == BookingStatus.CONFIRMED


def test_a_signed_in_kiosk_acts_only_for_bookings_the_user_may_act_on(park):
    b = book(park, start=local(2, 10))
    with time_machine.travel(b.start, tick=False):
        r = _client(park.charlie).post(f"/kiosk/confocal-1/{b.pk}/check-in")
        assert "not yours" in r.content.decode()
        b.refresh_from_db()
        assert b.status == BookingStatus.CONFIRMED
        # A booking of another instrument is not on this kiosk.
        assert _client(park.alice).post(f"/kiosk/xrd/{b.pk}/check-in").status_code == 404
        r = _client(park.alice).post(f"/kiosk/confocal-1/{b.pk}/check-in")
    b.refresh_from_db()
    assert b.status == BookingStatus.IN_USE


def test_a_member_sets_a_kiosk_pin_and_only_its_hash_is_kept(park):
    alice = _client(park.alice)
    r = alice.post("/account/kiosk-pin/", {"pin": "12"})
    assert "4 to 8 digits" in r.content.decode()
    r = alice.post("/account/kiosk-pin/", {"pin": "902211"})
    assert r.status_code == 302
    row = KioskPin.objects.get(user=park.alice)
    assert "902211" not in row.pin_hash
    assert Client().get("/account/kiosk-pin/").status_code == 302  # sign-in required
