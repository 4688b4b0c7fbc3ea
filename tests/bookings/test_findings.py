"""Findings from trying the UI as a new user would, each with the behaviour that fixes it."""

from __future__ import annotations

import datetime as dt

import pytest
from django.urls import reverse
from django.utils import timezone

from booking.rounds.models import AllocationRound
from tests.rounds import round_fixtures

week_round = round_fixtures.week_round

pytestmark = pytest.mark.django_db


def test_progress_past_the_time_limit_says_so_honestly(client, park, week_round):
    AllocationRound.objects.filter(pk=week_round.pk).update(
        status="solving", solve_started_at=timezone.now() - dt.timedelta(seconds=15)
    )
    week_round.refresh_from_db()
    client.force_login(park.olga)
    partial = client.get(
        reverse("rounds:progress", args=[week_round.pk]), headers={"HX-Request": "true"}
    ).content.decode()
    limit = week_round.time_limit_seconds
    assert limit < 15
    assert "of at most" not in partial
    assert f"limit of {limit:g} s" in partial or f"limit of {limit} s" in partial
    assert 'aria-label="Planner progress"' in partial


def test_quota_bars_have_an_accessible_name(client, park):
    client.force_login(park.alice)
    html = client.get("/").content.decode()
    assert 'role="progressbar"' in html
    for chunk in html.split('role="progressbar"')[1:]:
        tag = chunk.split(">", 1)[0]
        assert "aria-labelledby=" in tag or "aria-label=" in tag


def test_reloading_after_creating_a_token_creates_no_second_token(client, park):
    from booking.tokens.models import ApiToken

    client.force_login(park.alice)
    data = {"name": "laptop", "tenant": "acme", "scopes": ["read"], "expires_in_days": 30}
    response = client.post("/account/tokens/", data)
    assert response.status_code == 302 and response["Location"] == "/account/tokens/"
    first = client.get("/account/tokens/").content.decode()
    assert "park_" in first  # the secret, once
    # A reload is a GET now: no second token, and the secret is not shown again.
    again = client.get("/account/tokens/").content.decode()
    assert ApiToken.objects.count() == 1
    assert first.count("park_") > again.count("park_")


def test_reloading_after_a_new_calendar_address_keeps_that_address(client, park):
    import re

    client.force_login(park.alice)
    response = client.post(reverse("calendar_feed_settings"))
    assert response.status_code == 302
    page = client.get(reverse("calendar_feed_settings")).content.decode()
    url = re.search(r'value="(http[^"]+\.ics)"', page).group(1)
    client.get(reverse("calendar_feed_settings"))  # the reload
    assert client.get(url).status_code == 200


def _book(park, user, start_days, title):
    from booking.bookings.services import booking_create_instant
    from tests.browser.pages import at

    return booking_create_instant(
        user=user,
        tenant=park.acme,
        resource=park.gpu,
        start=at(start_days, 10),
        end=at(start_days, 12),
        title=title,
    )


def test_managers_reach_tenant_bookings_from_the_navigation(client, park):
    client.force_login(park.bob)
    nav = client.get("/").content.decode().split("<nav", 1)[1].split("</nav>", 1)[0]
    assert f'href="/tenants/{park.acme.slug}/bookings/"' in nav
    client.force_login(park.alice)
    nav = client.get("/").content.decode().split("<nav", 1)[1].split("</nav>", 1)[0]
    assert "/tenants/" not in nav


def test_tenant_bookings_filter_by_member_and_status(client, park):
    from booking.bookings.services import booking_cancel

    mine = _book(park, park.alice, 2, "Alice fine-tune")
    bobs = _book(park, park.bob, 3, "Bob sweep")
    gone = _book(park, park.bob, 4, "Bob cancelled run")
    booking_cancel(user=park.bob, booking=gone)
    client.force_login(park.bob)
    url = f"/tenants/{park.acme.slug}/bookings/"
    page = client.get(url, {"member": park.bob.pk}).content.decode()
    assert bobs.title in page and gone.title in page and mine.title not in page
    page = client.get(url, {"member": park.bob.pk, "status": "cancelled"}).content.decode()
    assert gone.title in page and bobs.title not in page
    # Another tenant's member is no choice here: the filter says so and filters nothing away.
    page = client.get(url, {"member": park.charlie.pk}).content.decode()
    assert 'class="field-error"' in page


def test_tenant_bookings_of_another_tenant_answer_404(client, park):
    client.force_login(park.charlie)
    assert client.get(f"/tenants/{park.acme.slug}/bookings/?status=confirmed").status_code == 404


def test_tenant_booking_filters_speak_the_readers_language(client, park):
    client.force_login(park.bob)
    page = client.get(
        f"/tenants/{park.acme.slug}/bookings/", headers={"Accept-Language": "zh-hant"}
    ).content.decode()
    assert "任何成員" in page and "租戶預約" in page
    assert "Any member" not in page


def test_a_training_refusal_says_whom_to_ask(park, settings):
    from django.utils import translation

    from booking.bookings.services import booking_create_instant
    from booking.errors import BookingRefused
    from tests.browser.pages import at

    settings.TRAINING_CONTACT = "the lab office (labs@park.example)"
    with translation.override("en"), pytest.raises(BookingRefused) as refused:
        booking_create_instant(
            user=park.bob,
            tenant=park.acme,
            resource=park.confocal,
            start=at(2, 10),
            end=at(2, 11),
            title="x",
        )
    message = next(e.message for e in refused.value.errors if e.code == "training_required")
    assert "Ask the lab office (labs@park.example) to book you on the training." in str(message)


def test_untrained_members_are_warned_before_the_form_and_in_the_catalogue(client, park):
    client.force_login(park.bob)  # bob holds no confocal training
    page = client.get(f"/resources/{park.confocal.slug}/").content.decode()
    assert "You cannot book this yet." in page and "the park&#x27;s operators" in page
    catalogue = client.get("/resources/").content.decode()
    card = catalogue.split(f'href="/resources/{park.confocal.slug}/"', 1)[1].split("</li>", 1)[0]
    assert "Not bookable for you yet" in card
    # alice holds it: no warning, and the catalogue says she has it.
    client.force_login(park.alice)
    assert (
        "You cannot book this yet."
        not in client.get(f"/resources/{park.confocal.slug}/").content.decode()
    )
    card = client.get("/resources/").content.decode()
    card = card.split(f'href="/resources/{park.confocal.slug}/"', 1)[1].split("</li>", 1)[0]
    assert "Not bookable for you yet" not in card


def test_the_training_warning_reads_in_chinese(client, park):
    client.force_login(park.bob)
    page = client.get(
        f"/resources/{park.confocal.slug}/", headers={"Accept-Language": "zh-hans"}
    ).content.decode()
    assert "您暂时无法预约此资源。" in page and "园区运营人员" in page


def test_live_validation_of_a_round_request_uses_the_rules_sending_uses(client, park, week_round):
    from booking.bookings.models import Booking

    assert park.line.booking_mode == "round"
    start = round_fixtures.at(week_round, 1, 8)
    data = {
        "tenant": park.acme.pk,
        "title": "GaN run",
        "earliest_start": start.strftime("%Y-%m-%dT%H:%M"),
        "latest_end": (start + dt.timedelta(hours=12)).strftime("%Y-%m-%dT%H:%M"),
        "duration_hours": "4",
        "recipe": "",
    }
    client.force_login(park.alice)
    before = Booking.objects.count()
    live = client.post(reverse("booking_validate", args=[park.line.slug]), data).content.decode()
    assert "looks complete" not in live
    assert 'data-code="recipe_required"' in live
    sent = client.post(reverse("booking_submit", args=[park.line.slug]), data).content.decode()
    assert 'data-code="recipe_required"' in sent
    assert Booking.objects.count() == before  # the live check stored nothing
    # With a recipe both agree it is fine, and only sending stores it.
    data["recipe"] = park.line.recipes.first().pk
    live = client.post(reverse("booking_validate", args=[park.line.slug]), data).content.decode()
    assert "looks complete" in live
    assert Booking.objects.count() == before


def test_refusals_on_the_page_start_with_a_capital(client, park, week_round):
    start = round_fixtures.at(week_round, 1, 8)
    data = {
        "tenant": park.acme.pk,
        "title": "GaN run",
        "earliest_start": start.strftime("%Y-%m-%dT%H:%M"),
        "latest_end": (start + dt.timedelta(hours=12)).strftime("%Y-%m-%dT%H:%M"),
        "duration_hours": "4",
    }
    client.force_login(park.alice)
    html = client.post(reverse("booking_submit", args=[park.line.slug]), data).content.decode()
    message = html.split('data-code="recipe_required"', 1)[1].split("</strong>", 1)[1]
    first = message.strip()[0]
    assert first.isupper(), message[:80]


def test_a_round_resource_opens_on_the_rounds_week(client, park):
    from booking.rounds.services import round_create

    start = round_fixtures.local_midnight(15)  # a week that is not this one
    rnd = round_create(
        name="Later week",
        period_start=start,
        period_end=start + dt.timedelta(days=7),
        cutoff=start - dt.timedelta(days=1),
    )
    client.force_login(park.alice)
    response = client.get(reverse("resource", args=[park.line.slug]))
    days = [d.date for d in response.context["week"].days]
    assert timezone.localtime(rnd.period_start).date() in days
    assert timezone.localdate() not in days
    # An instant resource still opens on today's week.
    response = client.get(reverse("resource", args=[park.confocal.slug]))
    assert timezone.localdate() in [d.date for d in response.context["week"].days]


def test_share_reasons_name_their_resource_class():
    from django.utils import translation

    from booking.rounds.reasons import reason_text

    params = {"share": 1.03, "floor": 0.65, "resource_class": "line"}
    with translation.override("en"):
        text = reason_text("capacity_to_fairer_share", params)
        assert "103% of its entitlement in “Pilot line”" in text
        text = reason_text("capacity_full", {"share": 0.65, "resource_class": "gpu"})
        assert "65% of its entitlement in “GPU node”" in text
    with translation.override("zh-hant"):
        assert "「" in reason_text("capacity_full", {"share": 0.65, "resource_class": "gpu"})
