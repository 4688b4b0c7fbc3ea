"""The Content-Security-Policy breaks nothing: no page, the admin and the API docs included,
reports a violation in the browser, and the features that used inline handlers still work."""

from __future__ import annotations

import pytest

from tests.browser.pages import fill_park, pages_of, visit

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.django_db(transaction=True)]


def test_no_page_violates_the_policy(page, live_server, park):
    data = fill_park(park)
    reports: list[str] = []
    page.on(
        "console",
        lambda m: (
            reports.append(f"{page.url}: {m.text}")
            if "Content Security Policy" in m.text or "Content-Security-Policy" in m.text
            else None
        ),
    )
    sessions: dict = {}
    extra = [("/admin/", "olga"), ("/admin/bookings/booking/", "olga"), ("/api/docs", "alice")]
    for path, who in pages_of(park, data) + extra:
        visit(page, live_server.url, path, who, "en", sessions)
        page.wait_for_load_state("networkidle")
    assert reports == []


def test_the_language_switch_works_without_inline_handlers(page, live_server, park):
    visit(page, live_server.url, "/accounts/login/", None, "en", {})
    with page.expect_navigation():
        page.select_option("header form.lang select", "zh-hant")
    assert page.locator("html").get_attribute("lang") == "zh-hant"
