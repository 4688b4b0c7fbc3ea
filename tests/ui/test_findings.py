"""Findings from trying the UI as a new user would, each with the behaviour that fixes it."""

from __future__ import annotations

import datetime as dt

import pytest
from django.urls import reverse
from django.utils import timezone

from booking.models import AllocationRound
from tests.booking import round_fixtures

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
