"""A member books as a person does, in a real browser: sign in, find a resource, book an instant
slot, watch live validation refuse a bad one, request a contended slot in an allocation round;
the operator closes, plans and publishes the round; the member sees the outcome and its reason,
the winner cancels and the waitlisted request is promoted. Once in English, once in 繁體中文."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from django.utils import timezone, translation

from booking.bookings.models import Booking, BookingStatus
from booking.bookings.reasons import reason_for

pytestmark = [
    pytest.mark.browser,
    pytest.mark.slow,
    pytest.mark.django_db(transaction=True),
]


def at(days: int, hour: int) -> dt.datetime:
    day = timezone.localdate() + dt.timedelta(days=days)
    return dt.datetime.combine(day, dt.time(hour), tzinfo=timezone.get_current_timezone())


def local_input(value: dt.datetime) -> str:
    return timezone.localtime(value).strftime("%Y-%m-%dT%H:%M")


def sign_in(page, base: str, username: str, password: str, lang: str, *, use_switcher=False):
    page.context.clear_cookies()
    if not use_switcher:
        page.context.add_cookies([{"name": "django_language", "value": lang, "url": base}])
    page.goto(f"{base}/accounts/login/")
    if use_switcher:
        # Choose the language the way a person does: the switcher in the top bar.
        with page.expect_navigation():
            page.select_option("header form.lang select", lang)
    assert page.locator("html").get_attribute("lang") == lang
    page.fill("#id_username", username)
    page.fill("#id_password", password)
    with page.expect_navigation():
        page.click("main form button[type=submit]")


def run_flow(page, base: str, park, shot, lang: str) -> None:
    from booking.rounds.requests import round_request_create
    from booking.rounds.services import round_create

    tag = lang.replace("-", "_")
    page.on("dialog", lambda dialog: dialog.accept())

    # An open round over day +4 and a competitor's request for the slot alice will want.
    day = at(4, 0)
    rnd = round_create(
        name="XRD week",
        period_start=day,
        period_end=day + dt.timedelta(days=1),
        cutoff=day - dt.timedelta(hours=2),
        actor=park.olga,
    )
    round_request_create(
        user=park.charlie,
        tenant=park.globex,
        resource=park.xrd,
        earliest_start=at(4, 10),
        latest_end=at(4, 14),
        duration_minutes=240,
        title="Globex powder scan",
    )

    # ---- sign in and find the confocal through the catalogue filters
    sign_in(page, base, "alice", "pw-alice", lang, use_switcher=True)
    shot(page, f"{tag}-01-home")
    page.click("nav a[href='/resources/']")
    page.select_option("select[name=kind]", "instrument")
    page.wait_for_function("!document.body.innerText.includes('A100 node gpu01')")
    shot(page, f"{tag}-02-catalogue")
    page.click("a.resource-name:text('Confocal 1')")
    page.wait_for_url(re.compile(r"/resources/confocal-1/"))

    # ---- the week calendar pages by htmx, without a full reload
    page.evaluate("window.__stayed = true")
    page.click("#week .week-nav a >> nth=1")
    page.wait_for_url(re.compile(r"week="))
    assert page.evaluate("window.__stayed === true")
    page.click("#week .week-nav a >> nth=0")
    page.wait_for_url(re.compile(r"week="))
    assert page.evaluate("window.__stayed === true")

    # ---- a click on the calendar fills the form with that slot
    page.goto(f"{base}/resources/confocal-1/?week={at(2, 0).date().isoformat()}")
    column = page.locator(f".cal-col[data-date='{at(2, 0).date().isoformat()}']")
    box = column.bounding_box()
    column.click(position={"x": box["width"] / 2, "y": box["height"] * 14.2 / 24})
    assert page.input_value("#id_start") == local_input(at(2, 14))
    assert page.input_value("#id_end") == local_input(at(2, 14) + dt.timedelta(minutes=30))
    page.locator("#booking-errors .ok").wait_for()

    # ---- live validation refuses a slot outside opening hours, naming the rule
    page.fill("#id_start", local_input(at(2, 19)))
    page.fill("#id_end", local_input(at(2, 21)))
    page.locator("#booking-errors li[data-code=outside_opening_hours]").wait_for()
    shot(page, f"{tag}-03-live-validation")
    assert Booking.objects.count() == 1  # only charlie's round request

    # ---- a good slot passes and is confirmed at once
    page.fill("#id_start", local_input(at(2, 10)))
    page.fill("#id_end", local_input(at(2, 11)))
    page.locator("#booking-errors .ok").wait_for()
    page.fill("#id_title", "Live-cell imaging")
    page.click("#booking-form button[type=submit]")
    page.wait_for_url(re.compile(r"/bookings/\d+/$"))
    page.locator("h1 .status-confirmed").wait_for()
    shot(page, f"{tag}-04-booking-confirmed")
    page.goto(f"{base}/resources/confocal-1/?week={at(2, 0).date().isoformat()}")
    assert page.locator(".blk-own:has-text('Live-cell imaging')").count() == 1
    shot(page, f"{tag}-05-resource-week")

    # ---- a contended slot on the round-planned XRD joins the open round
    page.goto(f"{base}/resources/xrd/")
    page.locator(".booking-form .note").wait_for()
    page.fill("#id_title", "Acme thin-film scan")
    page.fill("#id_earliest_start", local_input(at(4, 10)))
    page.fill("#id_latest_end", local_input(at(4, 14)))
    page.fill("#id_duration_hours", "4")
    page.click("#booking-form button[type=submit]")
    page.wait_for_url(re.compile(r"/bookings/\d+/$"))
    page.locator("h1 .status-requested").wait_for()
    shot(page, f"{tag}-06-round-request")
    alice_request = Booking.objects.get(user=park.alice, round=rnd)
    charlie_request = Booking.objects.get(user=park.charlie, round=rnd)

    # ---- the operator closes the round, runs the planner and publishes
    sign_in(page, base, "olga", "pw-olga", lang)
    page.goto(f"{base}/rounds/{rnd.pk}/")
    with page.expect_navigation():
        page.click(f"form[action='/rounds/{rnd.pk}/close/'] button")
    with page.expect_navigation():
        page.click(f"form[action='/rounds/{rnd.pk}/run/'] button")
    page.locator(f"form[action='/rounds/{rnd.pk}/publish/'] button").wait_for(timeout=60_000)
    shot(page, f"{tag}-07-round-solved")
    with page.expect_navigation():
        page.click(f"form[action='/rounds/{rnd.pk}/publish/'] button")
    page.locator(".round-published, .round-status.round-published").first.wait_for()

    alice_request.refresh_from_db()
    charlie_request.refresh_from_db()
    outcomes = {alice_request.status, charlie_request.status}
    assert BookingStatus.CONFIRMED in outcomes
    assert outcomes & {BookingStatus.WAITLISTED, BookingStatus.REFUSED}
    winner, loser = (
        (alice_request, charlie_request)
        if alice_request.status == BookingStatus.CONFIRMED
        else (charlie_request, alice_request)
    )
    assert loser.reason_text

    # ---- alice sees the outcome of her request and the planner's reason
    sign_in(page, base, "alice", "pw-alice", lang)
    page.goto(f"{base}/bookings/")
    row = page.locator(f"#booking-{alice_request.pk}")
    row.locator(f".status-{alice_request.status}").wait_for()
    with translation.override(lang):
        reason = reason_for(alice_request)
    assert reason and reason in row.locator("td.reason").inner_text()
    shot(page, f"{tag}-08-my-bookings-outcome")

    # ---- the winner cancels; the waitlisted request is promoted
    users = {park.alice.pk: ("alice", "pw-alice"), park.charlie.pk: ("charlie", "pw-charlie")}
    sign_in(page, base, *users[winner.user_id], lang)
    page.goto(f"{base}/bookings/")
    page.click(f"#booking-{winner.pk} form button")
    page.locator(f"#booking-{winner.pk} .status-cancelled").wait_for()
    loser.refresh_from_db()
    assert loser.status == BookingStatus.CONFIRMED

    sign_in(page, base, *users[loser.user_id], lang)
    page.goto(f"{base}/bookings/")
    page.locator(f"#booking-{loser.pk} .status-confirmed").wait_for()
    shot(page, f"{tag}-09-promoted")


def run_or_screenshot(page, live_server, park, shot, lang):
    try:
        run_flow(page, live_server.url, park, shot, lang)
    except Exception:
        shot(page, f"{lang}-FAILED")
        raise


def test_member_books_and_sees_the_round_outcome(page, live_server, park, shot):
    run_or_screenshot(page, live_server, park, shot, "en")


def test_the_same_flow_in_traditional_chinese(page, live_server, park, shot):
    run_or_screenshot(page, live_server, park, shot, "zh-hant")
    # Spot-check that the chrome of the page is Chinese, not English.
    body = page.locator("body").inner_text()
    for english in ("My bookings", "Catalogue", "Sign out", "Overview"):
        assert english not in body
