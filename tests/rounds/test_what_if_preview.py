"""What-if previews: asked in a request, planned by a worker, followed by polling."""

from __future__ import annotations

import datetime as dt

import pytest
from django.urls import reverse
from django.utils import timezone

import scheduler
from booking.rounds.models import WhatIfPreview
from booking.rounds.preview import (
    PREVIEW_STALE_AFTER,
    changes_as_json,
    round_what_if,
    what_if_preview_run,
)
from booking.rounds.services import what_if_preview_start
from booking.rounds.tasks import what_if_lease_name, what_if_preview_task
from tests.rounds import round_fixtures
from tests.rounds.round_fixtures import ask, close_and_solve
from tests.rounds.test_rounds_views import PREVIEW_PAGES

week_round = round_fixtures.week_round

pytestmark = pytest.mark.django_db

Status = WhatIfPreview.Status
HTMX = {"HX-Request": "true"}


@pytest.fixture
def solved(park, week_round, django_capture_on_commit_callbacks):
    for _ in range(3):
        ask(week_round, user=park.alice, tenant=park.acme, resource=park.xrd, title="acme run")
        ask(
            week_round, user=park.charlie, tenant=park.globex, resource=park.xrd, title="globex run"
        )
    return close_and_solve(week_round, django_capture_on_commit_callbacks)


def _no_solver(monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError("the planner ran inside the request")

    monkeypatch.setattr(scheduler, "what_if", refuse)


def test_the_request_stores_the_preview_and_queues_it_without_planning(
    client, park, solved, monkeypatch, django_capture_on_commit_callbacks
):
    _no_solver(monkeypatch)
    client.force_login(park.olga)
    with django_capture_on_commit_callbacks(execute=False) as queued:
        response = client.post(
            reverse("rounds:what_if", args=[solved.pk]), {"w_acme": "10"}, headers=HTMX
        )
    assert response.status_code == 200
    preview = solved.what_if_previews.get()
    assert preview.status == Status.QUEUED and preview.weights == {"acme": "10"}
    assert preview.requested_by == park.olga
    assert len(queued) == 1  # the task, once the request commits
    html = response.content.decode()
    poll = reverse("rounds:what_if_preview", args=[solved.pk, preview.pk])
    assert f'hx-get="{poll}"' in html and 'hx-trigger="every 1s"' in html


def test_a_refused_change_stores_nothing(client, park, solved, monkeypatch):
    _no_solver(monkeypatch)
    client.force_login(park.olga)
    bad = client.post(reverse("rounds:what_if", args=[solved.pk]), {"w_acme": "-1"}, headers=HTMX)
    assert bad.status_code == 400
    with pytest.raises(Exception) as refused:
        what_if_preview_start(allocation_round=solved, weights={"acme": "x"}, quotas={})
    assert getattr(refused.value, "code", "") == "bad_weight"
    assert not WhatIfPreview.objects.exists()


def test_the_task_stores_what_the_inline_preview_answered(
    park, solved, django_capture_on_commit_callbacks
):
    expected = changes_as_json(round_what_if(allocation_round=solved, weights={park.acme: 10}))
    assert expected
    with django_capture_on_commit_callbacks(execute=True):
        preview = what_if_preview_start(
            allocation_round=solved, weights={"acme": 10}, quotas={}, actor=park.olga
        )
    preview.refresh_from_db()
    assert preview.status == Status.DONE and preview.finished_at is not None
    assert preview.result == expected
    solved.refresh_from_db()
    assert solved.status == "solved"  # the round's plan is untouched


def test_the_polled_page_shows_each_state(client, park, solved, django_capture_on_commit_callbacks):
    client.force_login(park.olga)
    with django_capture_on_commit_callbacks(execute=False):
        preview = what_if_preview_start(allocation_round=solved, weights={"acme": 10}, quotas={})
    url = reverse("rounds:what_if_preview", args=[solved.pk, preview.pk])
    queued = client.get(url, headers=HTMX).content.decode()
    assert "working out the preview" in queued and 'hx-trigger="every 1s"' in queued
    WhatIfPreview.objects.filter(pk=preview.pk).update(
        status=Status.RUNNING, started_at=timezone.now() - dt.timedelta(seconds=3)
    )
    running = client.get(url, headers=HTMX).content.decode()
    assert "s so far" in running and 'hx-trigger="every 1s"' in running
    WhatIfPreview.objects.filter(pk=preview.pk).update(status=Status.QUEUED, started_at=None)
    assert what_if_preview_task(preview.pk)() is True
    done = client.get(url, headers=HTMX).content.decode()
    assert "hx-trigger" not in done  # polling stops
    assert "granted or refused the other way" in done and "acme run" in done
    # Without htmx the whole round page comes back with the preview in it.
    full = client.get(url).content.decode()
    assert "What if?" in full and "acme run" in full


def test_a_preview_of_a_plan_changed_since_is_stale_and_can_be_asked_again(
    client, park, solved, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        preview = what_if_preview_start(allocation_round=solved, weights={"acme": 10}, quotas={})
    solved.refresh_from_db()
    solved.plan = {**solved.plan, "replanned": True}  # a waitlist re-plan or a new solve
    solved.save(update_fields=["plan"])
    client.force_login(park.olga)
    url = reverse("rounds:what_if_preview", args=[solved.pk, preview.pk])
    html = client.get(url, headers=HTMX).content.decode()
    preview.refresh_from_db()
    assert preview.status == Status.STALE and "out of date" in html
    with django_capture_on_commit_callbacks(execute=True):
        again = client.post(
            reverse("rounds:what_if_again", args=[solved.pk, preview.pk]), headers=HTMX
        )
    assert again.status_code == 200
    fresh = solved.what_if_previews.exclude(pk=preview.pk).get()
    assert fresh.status == Status.DONE and fresh.weights == preview.weights


def test_a_preview_queued_while_the_plan_changed_is_marked_stale_by_the_worker(park, solved):
    preview = what_if_preview_start(allocation_round=solved, weights={"acme": 10}, quotas={})
    solved.refresh_from_db()
    solved.plan = {**solved.plan, "replanned": True}
    solved.save(update_fields=["plan"])
    what_if_preview_run(preview_id=preview.pk)
    preview.refresh_from_db()
    assert preview.status == Status.STALE and preview.result is None


def test_a_preview_whose_worker_died_is_run_again(
    client, park, solved, django_capture_on_commit_callbacks
):
    preview = what_if_preview_start(allocation_round=solved, weights={"acme": 10}, quotas={})
    # A worker claimed it and died: the preview is RUNNING, its start long past.
    long_ago = timezone.now() - PREVIEW_STALE_AFTER - dt.timedelta(seconds=1)
    WhatIfPreview.objects.filter(pk=preview.pk).update(status=Status.RUNNING, started_at=long_ago)
    client.force_login(park.olga)
    url = reverse("rounds:what_if_preview", args=[solved.pk, preview.pk])
    html = client.get(url, headers=HTMX).content.decode()
    assert "worker may have stopped" in html and "hx-trigger" not in html
    with django_capture_on_commit_callbacks(execute=True):
        client.post(reverse("rounds:what_if_again", args=[solved.pk, preview.pk]), headers=HTMX)
    preview.refresh_from_db()
    assert preview.status == Status.DONE and preview.result


def test_a_fresh_run_is_not_claimed_twice(park, solved):
    preview = what_if_preview_start(allocation_round=solved, weights={"acme": 10}, quotas={})
    WhatIfPreview.objects.filter(pk=preview.pk).update(
        status=Status.RUNNING, started_at=timezone.now()
    )
    assert what_if_preview_run(preview_id=preview.pk) is None


def test_one_preview_per_round_at_a_time(park, solved, monkeypatch):
    from booking.leases import lease_acquire

    preview = what_if_preview_start(allocation_round=solved, weights={"acme": 10}, quotas={})
    assert lease_acquire(name=what_if_lease_name(solved.pk), seconds=60)
    later = []
    monkeypatch.setattr(
        what_if_preview_task, "schedule", lambda args, delay: later.append((args, delay))
    )
    assert what_if_preview_task(preview.pk)() is False
    preview.refresh_from_db()
    assert preview.status == Status.QUEUED and later == [((preview.pk,), 5)]


@pytest.mark.parametrize(("name", "method"), PREVIEW_PAGES)
def test_preview_pages_are_for_operators_only(client, park, solved, name, method):
    preview = what_if_preview_start(allocation_round=solved, weights={"acme": 10}, quotas={})
    url = reverse(name, args=[solved.pk, preview.pk])
    response = getattr(client, method)(url)
    assert response.status_code == 302 and "/accounts/login/" in response["Location"]
    for member in (park.alice, park.charlie, park.bob):
        client.force_login(member)
        assert getattr(client, method)(url).status_code == 403
    preview.refresh_from_db()
    assert preview.status == Status.QUEUED


@pytest.mark.parametrize(("name", "method"), PREVIEW_PAGES)
def test_a_preview_is_only_found_under_its_own_round(client, park, solved, name, method):
    from booking.rounds.services import round_create

    other = round_create(
        name="Other week",
        period_start=solved.period_start + dt.timedelta(days=14),
        period_end=solved.period_end + dt.timedelta(days=14),
        cutoff=solved.cutoff + dt.timedelta(days=14),
    )
    preview = what_if_preview_start(allocation_round=solved, weights={"acme": 10}, quotas={})
    client.force_login(park.olga)
    assert getattr(client, method)(reverse(name, args=[other.pk, preview.pk])).status_code == 404
    assert (
        getattr(client, method)(reverse(name, args=[solved.pk, preview.pk + 99])).status_code == 404
    )


@pytest.mark.parametrize("language", ["zh-hant", "zh-hans"])
def test_the_preview_states_speak_chinese(client, park, solved, language):
    preview = what_if_preview_start(allocation_round=solved, weights={"acme": 10}, quotas={})
    client.force_login(park.olga)
    url = reverse("rounds:what_if_preview", args=[solved.pk, preview.pk])
    headers = {**HTMX, "Accept-Language": language}
    queued = client.get(url, headers=headers).content.decode()
    assert "試算" in queued or "试算" in queued
    assert "working out" not in queued and "updates by itself" not in queued
    WhatIfPreview.objects.filter(pk=preview.pk).update(status=Status.FAILED)
    failed = client.get(url, headers=headers).content.decode()
    assert "could not be planned" not in failed and "Run it again" not in failed
