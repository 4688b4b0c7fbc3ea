"""Every page at a phone's 390 px and a desktop's 1280 px, in English, 繁體中文 and 简体中文:
nothing is wider than the screen; on a phone the navigation collapses behind a menu button and
the calendar shows one day at a time; the calendar marks the present moment."""

from __future__ import annotations

import pytest

from tests.browser.pages import fill_park, pages_of, visit

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.django_db(transaction=True)]

LANGS = ["en", "zh-hant", "zh-hans"]


@pytest.mark.parametrize("width", [390, 1280])
@pytest.mark.parametrize("lang", LANGS)
def test_no_page_is_wider_than_the_screen(page, live_server, park, shot, lang, width):
    data = fill_park(park)
    page.set_viewport_size({"width": width, "height": 844 if width < 600 else 900})
    sessions: dict = {}
    too_wide = []
    for path, who in pages_of(park, data):
        visit(page, live_server.url, path, who, lang, sessions)
        if lang != "en":
            # Django's own default strings are translated too.
            assert "Select an option" not in page.content(), path
        assert "---------" not in page.content(), path  # Django's untranslatable blank choice
        scroll = page.evaluate("document.documentElement.scrollWidth")
        if scroll > width:
            too_wide.append((path, who, scroll))
            shot(page, f"too-wide-{width}-{lang}-{path.strip('/').replace('/', '_') or 'home'}")
    assert too_wide == [], too_wide


def test_phone_navigation_collapses_behind_a_menu_button(page, live_server, park):
    data = fill_park(park)
    page.set_viewport_size({"width": 390, "height": 844})
    visit(page, live_server.url, "/", "alice", "en", {})
    nav = page.locator("#site-nav")
    toggle = page.locator(".nav-toggle")
    assert toggle.is_visible() and not nav.is_visible()
    toggle.click()
    assert nav.is_visible() and toggle.get_attribute("aria-expanded") == "true"
    nav.get_by_text("My bookings").click()
    page.wait_for_url("**/bookings/")
    # The booking table scrolls inside its card; the page itself does not.
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    assert data["booking"].title in page.content()
    # On a desktop the links are always there and the button is not.
    page.set_viewport_size({"width": 1280, "height": 900})
    assert nav.is_visible() and not toggle.is_visible()


def test_phone_calendar_shows_one_day_and_a_now_line(page, live_server, park, shot):
    fill_park(park)
    page.set_viewport_size({"width": 390, "height": 844})
    visit(page, live_server.url, f"/resources/{park.confocal.slug}/", "alice", "en", {})
    cal = page.locator(".cal").bounding_box()
    # The week opens on today, which fills the calendar's width; the other days wait beside it.
    today = page.locator(".cal-day:has(.cal-now)").bounding_box()
    assert today["width"] > 0.7 * cal["width"]
    assert cal["x"] - 2 <= today["x"] and today["x"] + today["width"] <= cal["x"] + cal["width"] + 2
    for box in page.locator(".cal-day:not(:has(.cal-now))").evaluate_all(
        "els => els.map(e => e.getBoundingClientRect().toJSON())"
    ):
        assert box["right"] <= cal["x"] + 50 or box["left"] >= cal["x"] + cal["width"] - 2
    # Today's column carries the "now" line, at the present time of day.
    line = page.locator(".cal-col .cal-now")
    assert line.count() == 1
    from django.utils import timezone

    now = timezone.localtime()
    top = float(line.evaluate("el => parseFloat(el.style.top)"))
    assert abs(top - (now.hour * 60 + now.minute) / 14.4) < 1.0
    shot(page, "phone-calendar-day")
