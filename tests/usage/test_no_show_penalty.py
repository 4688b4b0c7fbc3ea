"""The no-show weight penalty: set by the operator in the usage policy, it lowers a tenant's
weight in the planner input of the next rounds and is written into the fairness contract."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.test import Client

from booking.bookings.models import Booking, BookingStatus
from booking.rounds.adapter import round_problem_build
from booking.usage.selectors import no_show_weight_factor
from booking.usage.services import usage_policy
from tests.rounds import round_fixtures
from tests.rounds.round_fixtures import ask

week_round = round_fixtures.week_round

pytestmark = pytest.mark.django_db


def _no_show(park, *, tenant, user, start):
    return Booking.objects.create(
        tenant=tenant,
        user=user,
        resource=park.confocal,
        title="missed",
        start=start,
        end=start + dt.timedelta(hours=1),
        status=BookingStatus.NO_SHOW,
    )


def _policy(penalty, *, cap=50, days=28):
    policy = usage_policy()
    policy.no_show_weight_penalty = Decimal(penalty)
    policy.no_show_penalty_cap = Decimal(cap)
    policy.no_show_penalty_days = days
    policy.full_clean()
    policy.save()
    return policy


@pytest.fixture
def misses(park, week_round):
    """Acme: 3 no-shows in the 28 days before the round, one older; Globex: none counted."""
    begin = week_round.period_start
    for days in (1, 10, 27):
        _no_show(park, tenant=park.acme, user=park.alice, start=begin - dt.timedelta(days=days))
    _no_show(park, tenant=park.acme, user=park.alice, start=begin - dt.timedelta(days=29))
    # Inside the round's own period: not a no-show "before" it.
    _no_show(park, tenant=park.globex, user=park.charlie, start=begin + dt.timedelta(hours=2))


def test_the_penalty_is_off_by_default(park, week_round, misses):
    assert usage_policy().no_show_weight_penalty == 0
    assert no_show_weight_factor(tenant=park.acme, allocation_round=week_round) == 1.0


def test_each_no_show_in_the_window_lowers_the_weight_up_to_the_cap(park, week_round, misses):
    _policy(10)
    assert no_show_weight_factor(tenant=park.acme, allocation_round=week_round) == pytest.approx(
        0.7
    )
    assert no_show_weight_factor(tenant=park.globex, allocation_round=week_round) == 1.0
    _policy(10, cap=25)
    assert no_show_weight_factor(tenant=park.acme, allocation_round=week_round) == pytest.approx(
        0.75
    )
    _policy(10, days=5)  # only the one a day before the round
    assert no_show_weight_factor(tenant=park.acme, allocation_round=week_round) == pytest.approx(
        0.9
    )


def test_the_penalty_feeds_the_planner_input_of_the_next_round(park, week_round, misses):
    ask(week_round, user=park.alice, tenant=park.acme, resource=park.xrd, minutes=60)
    ask(week_round, user=park.charlie, tenant=park.globex, resource=park.xrd, minutes=60)

    def weights():
        problem = round_problem_build(allocation_round=week_round).problem
        return {t.id: t.weight for t in problem.tenants}

    assert weights() == {"acme": 1.0, "globex": 2.0}
    _policy(Decimal("12.5"))
    assert weights() == {"acme": pytest.approx(1.0 * (1 - 3 * 0.125)), "globex": 2.0}


def test_a_policy_out_of_range_is_refused_naming_the_rule(park):
    for penalty, cap in ((Decimal(-1), 50), (Decimal(10), 100)):
        with pytest.raises(ValidationError, match="weight never reaches 0"):
            _policy(penalty, cap=cap)


@pytest.mark.parametrize(
    ("lang", "on", "off"),
    [
        ("en", "lowers the tenant's weight in that round by 12.5 %", "do not change"),
        ("zh-hant", "權重降低 12.5 %", "未簽到不會改變"),
        ("zh-hans", "权重降低 12.5 %", "未签到不会改变"),
    ],
)
def test_the_fairness_contract_states_the_penalty(park, week_round, lang, on, off):
    olga = Client()
    olga.force_login(park.olga)
    olga.cookies["django_language"] = lang
    url = f"/rounds/{week_round.pk}/"
    assert off in olga.get(url).content.decode()
    _policy(Decimal("12.5"), days=14)
    html = olga.get(url).content.decode()
    assert on in html and "14" in html and off not in html
