"""The GPU class's fairness measure (PARK_GPU_FAIRNESS): in the planning problem, and stated on
the round's page in the operator's language."""

from __future__ import annotations

import pytest
from django.urls import reverse

from booking.rounds.adapter import round_problem_build
from tests.rounds import round_fixtures
from tests.rounds.round_fixtures import ask, close_and_solve

week_round = round_fixtures.week_round

pytestmark = pytest.mark.django_db

DOMINANT = "by dominant share: the largest of GPU-hours"


def _gpu_round(park, rnd):
    park.gpu.booking_mode = "round"
    park.gpu.save()
    ask(rnd, user=park.charlie, tenant=park.globex, resource=park.gpu, minutes=120)
    ask(rnd, user=park.alice, tenant=park.acme, resource=park.xrd)


def test_the_setting_chooses_the_gpu_classs_measure_in_the_problem(park, week_round, settings):
    _gpu_round(park, week_round)
    problem = round_problem_build(allocation_round=week_round).problem
    assert problem.measure("gpu") == "hours"
    settings.PARK_GPU_FAIRNESS = "dominant_share"
    problem = round_problem_build(allocation_round=week_round).problem
    assert problem.measure("gpu") == "dominant_share"
    assert problem.measure("instrument") == "hours"  # lines and instruments: always hours


def test_the_round_page_states_each_classs_measure(
    client, park, week_round, settings, django_capture_on_commit_callbacks
):
    settings.PARK_GPU_FAIRNESS = "dominant_share"
    _gpu_round(park, week_round)
    client.force_login(park.olga)
    url = reverse("rounds:detail", args=[week_round.pk])
    page = client.get(url).content.decode()
    # Before solving: as the next solve will measure.
    assert '<li data-measure="dominant_share"><strong>GPU node</strong>: ' + DOMINANT in page
    assert '<li data-measure="hours"><strong>Pilot line</strong>: in hours' in page
    assert "11. Dominant share." in page
    rnd = close_and_solve(week_round, django_capture_on_commit_callbacks)
    assert rnd.figures["measures"]["gpu"] == "dominant_share"
    # Once solved: as the plan was made, even if the setting changes afterwards.
    settings.PARK_GPU_FAIRNESS = "hours"
    page = client.get(url).content.decode()
    assert '<li data-measure="dominant_share"><strong>GPU node</strong>' in page
    for language, words in (("zh-hant", "以主導份額量度"), ("zh-hans", "以主导份额度量")):
        page = client.get(url, headers={"Accept-Language": language}).content.decode()
        assert words in page and DOMINANT not in page
        assert "11. Dominant share." not in page
