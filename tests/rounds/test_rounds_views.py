"""Operator pages of allocation rounds: staff only, and they drive the same services."""

from __future__ import annotations

import datetime as dt

import pytest
from django.core import mail
from django.urls import reverse

from booking.bookings.models import BookingStatus
from booking.rounds.models import AllocationRound
from tests.rounds import round_fixtures
from tests.rounds.round_fixtures import ask, close_and_solve, local_midnight

week_round = round_fixtures.week_round

pytestmark = pytest.mark.django_db

PAGES = [
    ("rounds:list", False, "get"),
    ("rounds:new", False, "get"),
    ("rounds:detail", True, "get"),
    ("rounds:progress", True, "get"),
    ("rounds:close", True, "post"),
    ("rounds:run", True, "post"),
    ("rounds:publish", True, "post"),
    ("rounds:what_if", True, "post"),
]
# Pages of one what-if preview (round pk, preview pk): operators only, like the round's pages.
PREVIEW_PAGES = [("rounds:what_if_preview", "get"), ("rounds:what_if_again", "post")]


def _url(name, with_pk, rnd):
    return reverse(name, args=[rnd.pk]) if with_pk else reverse(name)


@pytest.mark.parametrize(("name", "with_pk", "method"), PAGES)
def test_members_get_403_and_visitors_are_sent_to_sign_in(
    client, park, week_round, name, with_pk, method
):
    url = _url(name, with_pk, week_round)
    response = getattr(client, method)(url)
    assert response.status_code == 302 and "/accounts/login/" in response["Location"]
    for member in (park.alice, park.charlie, park.bob):
        client.force_login(member)
        assert getattr(client, method)(url).status_code == 403
    week_round.refresh_from_db()
    assert week_round.status == AllocationRound.Status.OPEN


def test_operator_opens_a_round_from_the_form(client, park):
    client.force_login(park.olga)
    start = local_midnight(10)
    fmt = "%Y-%m-%dT%H:%M"
    response = client.post(
        reverse("rounds:new"),
        {
            "name": "Week 49",
            "period_start": start.strftime(fmt),
            "period_end": (start + dt.timedelta(days=7)).strftime(fmt),
            "cutoff": (start - dt.timedelta(days=2)).strftime(fmt),
            "time_limit_seconds": 5,
        },
    )
    rnd = AllocationRound.objects.get(name="Week 49")
    assert response.status_code == 302 and response["Location"] == reverse(
        "rounds:detail", args=[rnd.pk]
    )
    assert rnd.status == AllocationRound.Status.OPEN


def test_a_round_form_with_the_cutoff_after_the_start_is_refused_and_nothing_is_stored(
    client, park
):
    client.force_login(park.olga)
    start = local_midnight(10)
    fmt = "%Y-%m-%dT%H:%M"
    response = client.post(
        reverse("rounds:new"),
        {
            "name": "Bad",
            "period_start": start.strftime(fmt),
            "period_end": (start + dt.timedelta(days=7)).strftime(fmt),
            "cutoff": (start + dt.timedelta(days=1)).strftime(fmt),
            "time_limit_seconds": 5,
        },
    )
    assert response.status_code == 200
    assert "cut-off" in response.content.decode()
    assert not AllocationRound.objects.filter(name="Bad").exists()


def test_operator_closes_runs_reviews_and_publishes(
    client, park, week_round, django_capture_on_commit_callbacks
):
    ask(week_round, user=park.alice, tenant=park.acme, resource=park.xrd, title="alice xrd one")
    ask(week_round, user=park.alice, tenant=park.acme, resource=park.xrd, title="alice xrd two")
    ask(week_round, user=park.charlie, tenant=park.globex, resource=park.xrd, title="charlie xrd")
    ask(week_round, user=park.charlie, tenant=park.globex, resource=park.xrd, title="charlie xrd 2")
    client.force_login(park.olga)
    detail = reverse("rounds:detail", args=[week_round.pk])
    assert client.post(reverse("rounds:close", args=[week_round.pk])).status_code == 302
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(reverse("rounds:run", args=[week_round.pk]))
    assert response.status_code == 302
    week_round.refresh_from_db()
    assert week_round.status == AllocationRound.Status.SOLVED
    page = client.get(detail).content.decode()
    for text in (
        "Fairness floor",
        "Jain",
        "Utilisation",
        "share-bar",
        "fairness contract",
        "Acme Robotics",
        "charlie xrd",
    ):
        assert text in page
    # The progress partial tells htmx to reload the page once the planner is done.
    progress = client.get(
        reverse("rounds:progress", args=[week_round.pk]), headers={"HX-Request": "true"}
    )
    assert progress["HX-Refresh"] == "true"
    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        assert client.post(reverse("rounds:publish", args=[week_round.pk])).status_code == 302
    week_round.refresh_from_db()
    assert week_round.status == AllocationRound.Status.PUBLISHED
    assert week_round.requests.filter(status=BookingStatus.REQUESTED).count() == 0
    assert len(mail.outbox) == 4


def test_progress_polls_while_the_planner_runs(client, park, week_round):
    AllocationRound.objects.filter(pk=week_round.pk).update(status="solving")
    client.force_login(park.olga)
    response = client.get(reverse("rounds:detail", args=[week_round.pk]))
    assert 'hx-trigger="every 1s"' in response.content.decode()
    partial = client.get(
        reverse("rounds:progress", args=[week_round.pk]), headers={"HX-Request": "true"}
    )
    assert "HX-Refresh" not in partial and "every 1s" in partial.content.decode()


def test_publishing_twice_is_refused_with_a_message(
    client, park, week_round, django_capture_on_commit_callbacks
):
    ask(week_round, user=park.alice, tenant=park.acme, resource=park.xrd)
    rnd = close_and_solve(week_round, django_capture_on_commit_callbacks)
    client.force_login(park.olga)
    with django_capture_on_commit_callbacks(execute=True):
        client.post(reverse("rounds:publish", args=[rnd.pk]))
    response = client.post(reverse("rounds:publish", args=[rnd.pk]), follow=True)
    assert "only a planned round can be published" in response.content.decode()


def test_what_if_preview_lists_changed_requests(
    client, park, week_round, django_capture_on_commit_callbacks
):
    for _ in range(3):
        ask(week_round, user=park.alice, tenant=park.acme, resource=park.xrd, title="acme run")
        ask(
            week_round, user=park.charlie, tenant=park.globex, resource=park.xrd, title="globex run"
        )
    rnd = close_and_solve(week_round, django_capture_on_commit_callbacks)
    client.force_login(park.olga)
    with django_capture_on_commit_callbacks(execute=True):  # the worker plans the preview
        response = client.post(
            reverse("rounds:what_if", args=[rnd.pk]),
            {"w_acme": "10"},
            headers={"HX-Request": "true"},
        )
    assert response.status_code == 200
    preview = rnd.what_if_previews.get()
    response = client.get(
        reverse("rounds:what_if_preview", args=[rnd.pk, preview.pk]), headers={"HX-Request": "true"}
    )
    html = response.content.decode()
    assert "granted or refused the other way" in html and "acme run" in html
    bad = client.post(
        reverse("rounds:what_if", args=[rnd.pk]), {"w_acme": "-1"}, headers={"HX-Request": "true"}
    )
    assert bad.status_code == 400


def test_the_contract_and_reasons_render_in_chinese(
    client, park, week_round, django_capture_on_commit_callbacks
):
    ask(week_round, user=park.alice, tenant=park.acme, resource=park.xrd)
    rnd = close_and_solve(week_round, django_capture_on_commit_callbacks)
    client.force_login(park.olga)
    for language in ("zh-hant", "zh-hans"):
        response = client.get(
            reverse("rounds:detail", args=[rnd.pk]), headers={"Accept-Language": language}
        )
        page = response.content.decode()
        assert response.status_code == 200 and "公平" in page
        for english in (
            "Fairness figures",
            "Each tenant's share of its entitlement",
            "Requests and outcomes",
            "What if?",
            "The fairness contract",
            "2. Entitlement.",
            "Granted as requested",
            " min<",
            "· instrument<",  # the what-if's quota column names the class in the reader's words
        ):
            assert english not in page, (language, english)


def test_the_admin_actions_close_plan_and_publish(
    client, park, week_round, django_capture_on_commit_callbacks
):
    ask(week_round, user=park.alice, tenant=park.acme, resource=park.xrd)
    client.force_login(park.olga)
    url = reverse("admin:rounds_allocationround_changelist")
    for action in ("close_rounds", "run_planner", "publish_rounds"):
        with django_capture_on_commit_callbacks(execute=True):
            response = client.post(url, {"action": action, "_selected_action": [week_round.pk]})
        assert response.status_code == 302
    week_round.refresh_from_db()
    assert week_round.status == AllocationRound.Status.PUBLISHED
    response = client.post(
        url, {"action": "close_rounds", "_selected_action": [week_round.pk]}, follow=True
    )
    assert "this cannot be done now" in response.content.decode()
