"""The demo's billing: rate cards, projects and statements, and a second call changes nothing."""

from __future__ import annotations

from booking.billing.demo import demo_billing
from booking.billing.models import Project, RateCard, Statement


def test_demo_billing_sets_up_and_is_idempotent(park):
    made = demo_billing()
    assert made["rate_cards"] == 9 and made["projects"] >= 2
    assert Statement.objects.filter(status="final").count() >= 2  # last month closed
    assert Statement.objects.filter(status="draft").count() >= 2  # this month follows usage
    again = demo_billing()
    assert again["rate_cards"] == 0 and again["projects"] == 0
    assert RateCard.objects.count() == 9
    assert (
        Project.objects.filter(is_default=True).count()
        == Project.objects.filter(is_default=False).count()
    )
