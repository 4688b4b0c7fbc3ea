"""A member books a recurring series in 繁體中文 in a real browser: the repeat fields of the
booking form, a maintenance day skipped with its reason, the series on the booking's page, and
cancelling an occurrence with all following ones."""

from __future__ import annotations

import re

import pytest

from booking.bookings.models import Booking, BookingSeries, BookingStatus
from resources.services import maintenance_add
from tests.browser.test_booking_flow import at, local_input, sign_in

pytestmark = [
    pytest.mark.browser,
    pytest.mark.slow,
    pytest.mark.django_db(transaction=True),
]


def test_recurring_booking_in_traditional_chinese(page, live_server, park, shot):
    base = live_server.url
    maintenance_add(resource=park.confocal, start=at(3, 9), end=at(3, 12), reason="laser")
    sign_in(page, base, "alice", "pw-alice", "zh-hant")
    page.goto(f"{base}/resources/confocal-1/")
    page.fill("#id_title", "Weekly imaging")
    page.fill("#id_start", local_input(at(2, 10)))
    page.fill("#id_end", local_input(at(2, 11)))
    page.select_option("#id_repeat", "daily")
    page.fill("#id_repeat_count", "4")
    page.check("#id_skip_conflicts")
    assert "重複" in page.locator("label[for=id_repeat]").inner_text()
    page.click("#booking-form button[type=submit]")
    page.wait_for_url(re.compile(r"/bookings/\d+/$"))
    series = page.locator("section.series")
    series.wait_for()
    text = series.inner_text()
    assert "重複系列" in text and "共 3 場" in text and "略過 1 場" in text
    assert page.locator("section.series ol.occurrences li").count() == 3
    shot(page, "zh_hant-recurring-series")
    assert BookingSeries.objects.get().occurrences.count() == 3

    # Open the second occurrence and cancel it with all following ones.
    page.locator("section.series ol.occurrences li a >> nth=1").click()
    page.wait_for_url(re.compile(r"/bookings/\d+/$"))
    with page.expect_navigation():
        page.click("form[action$='/cancel-following'] button")
    statuses = list(Booking.objects.order_by("start").values_list("status", flat=True))
    assert statuses == [BookingStatus.CONFIRMED, BookingStatus.CANCELLED, BookingStatus.CANCELLED]
    body = page.locator("body").inner_text()
    assert "Recurring series" not in body and "occurrences" not in body
