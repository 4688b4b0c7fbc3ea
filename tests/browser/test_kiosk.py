"""The kiosk beside an instrument, in a real browser: check in and out with a personal PIN
(English), and signed in (繁體中文); a wrong PIN is refused on the page."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

from booking.bookings.models import Booking, BookingStatus

pytestmark = [
    pytest.mark.browser,
    pytest.mark.slow,
    pytest.mark.django_db(transaction=True),
]

WORDS = {
    "en": {
        "in": "Check in",
        "out": "Check out",
        "done_in": "Checked in",
        "done_out": "Checked out",
        "wrong": "wrong PIN",
    },
    "zh-hant": {
        "in": "報到",
        "out": "離場",
        "done_in": "已報到",
        "done_out": "已離場",
        "wrong": "PIN 不正確",
    },
}


def _booking_now(park) -> Booking:
    """A confirmed booking of the confocal whose check-in window is open now (written directly:
    the instrument's opening hours do not matter to the kiosk)."""
    from booking.usage.models import CheckInRule

    CheckInRule.objects.update_or_create(
        resource=park.confocal, defaults={"opens_minutes_before": 15, "closes_minutes_after": 60}
    )
    now = timezone.localtime()
    start = now.replace(minute=0 if now.minute < 30 else 30, second=0, microsecond=0)
    return Booking.objects.create(
        tenant=park.acme,
        user=park.alice,
        resource=park.confocal,
        title="Live-cell imaging",
        start=start,
        end=start + dt.timedelta(hours=2),
        status=BookingStatus.CONFIRMED,
    )


def _press(page, label: str) -> None:
    page.locator("#kiosk-list button", has_text=label).first.click()


@pytest.mark.parametrize("lang", ["en", "zh-hant"])
def test_the_kiosk_checks_a_booking_in_and_out(page, live_server, park, shot, lang):
    from booking.usage.kiosk import kiosk_pin_set

    words = WORDS[lang]
    base = live_server.url
    booking = _booking_now(park)
    kiosk_pin_set(user=park.alice, pin="4821")
    page.context.add_cookies([{"name": "django_language", "value": lang, "url": base}])
    if lang == "zh-hant":
        # Signed in at the tablet: no PIN asked.
        page.goto(f"{base}/accounts/login/?next=/kiosk/confocal-1/")
        page.fill("#id_username", "alice")
        page.fill("#id_password", "pw-alice")
        with page.expect_navigation():
            page.click("main form button[type=submit]")
        assert page.url.endswith("/kiosk/confocal-1/")
        assert page.locator("#kiosk-list input[name=pin]").count() == 0
    else:
        page.goto(f"{base}/kiosk/confocal-1/")
        page.fill("#kiosk-list input[name=pin]", "1111")
        _press(page, words["in"])
        page.locator(".error", has_text=words["wrong"]).wait_for()
        booking.refresh_from_db()
        assert booking.status == BookingStatus.CONFIRMED
        page.fill("#kiosk-list input[name=pin]", "4821")
    assert page.locator("html").get_attribute("lang") == lang
    assert "Alice" in page.locator("#kiosk-list").inner_text()
    _press(page, words["in"])
    page.locator(".success", has_text=words["done_in"]).wait_for()
    booking.refresh_from_db()
    assert booking.status == BookingStatus.IN_USE
    shot(page, f"kiosk-checked-in-{lang}")
    if lang == "en":
        page.fill("#kiosk-list input[name=pin]", "4821")
    _press(page, words["out"])
    page.locator(".success", has_text=words["done_out"]).wait_for()
    booking.refresh_from_db()
    assert booking.status == BookingStatus.COMPLETED
    assert booking.usage.checked_out_at is not None
