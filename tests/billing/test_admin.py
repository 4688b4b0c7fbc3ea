"""Operators' admin: rate cards are added, never changed; statements closed and exported."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.test import Client

from booking.billing import services
from booking.billing.models import RateCard, Statement
from tests.billing.conftest import MARCH, at, card, closed_booking


@pytest.fixture
def olga_client(park):
    client = Client()
    client.force_login(park.olga)
    return client


def test_a_rate_card_opens_read_only_and_a_new_version_is_added(park, olga_client):
    old = card()
    page = olga_client.get(f"/admin/billing/ratecard/{old.pk}/change/")
    assert page.status_code == 200
    assert b'name="peak_price"' not in page.content  # read-only
    response = olga_client.post(f"/admin/billing/ratecard/{old.pk}/change/", {"peak_price": "1"})
    assert response.status_code == 403
    response = olga_client.post(
        "/admin/billing/ratecard/add/",
        {
            "resource_class": "instrument",
            "tier": "startup",
            "unit": "hour",
            "peak_price": "130.00",
            "off_peak_price": "70.00",
            "minimum_charge": "0",
            "no_show_per_hour": "0",
            "consumable_price": "0",
            "valid_from": "2026-05-01",
        },
    )
    assert response.status_code == 302, response.content[:2000]
    assert RateCard.objects.count() == 2
    assert RateCard.objects.get(pk=old.pk).peak_price == Decimal("100.00")
    assert RateCard.objects.latest("valid_from").created_by == park.olga


def test_the_admin_refuses_a_version_in_a_closed_month(park, olga_client):
    card()
    services.statement_close(statement=services.statement_for(tenant=park.acme, month=MARCH))
    response = olga_client.post(
        "/admin/billing/ratecard/add/",
        {
            "resource_class": "instrument",
            "tier": "startup",
            "unit": "hour",
            "peak_price": "1",
            "off_peak_price": "1",
            "minimum_charge": "0",
            "no_show_per_hour": "0",
            "consumable_price": "0",
            "valid_from": "2026-03-20",
        },
    )
    assert response.status_code == 200 and b"is closed" in response.content
    assert RateCard.objects.count() == 1


def test_the_admin_closes_and_exports_statements(park, olga_client):
    card()
    closed_booking(park, start=at(3, 10))
    statement = services.statement_for(tenant=park.acme, month=MARCH)
    url = "/admin/billing/statement/"
    olga_client.post(url, {"action": "close_statements", "_selected_action": [statement.pk]})
    statement.refresh_from_db()
    assert statement.status == "final" and statement.closed_by == park.olga
    response = olga_client.post(url, {"action": "export_csv", "_selected_action": [statement.pk]})
    assert response["Content-Type"].startswith("text/csv")
    assert b"acme,2026-03,final,General" in response.content
    assert olga_client.get(f"{url}{statement.pk}/change/").status_code == 200
    assert Statement.objects.get(pk=statement.pk).total == Decimal("100.00")


def test_an_operator_adds_an_adjustment_with_who_and_why(park, olga_client):
    from booking.billing.models import StatementLine

    card(peak_price=Decimal("100.00"), off_peak_price=Decimal("60.00"))
    closed_booking(park, start=at(3, 10))
    statement = services.statement_refresh(
        statement=services.statement_for(tenant=park.acme, month=MARCH)
    )
    page = olga_client.get(f"/admin/billing/statement/{statement.pk}/change/")
    assert f"/admin/billing/statement/{statement.pk}/adjust/".encode() in page.content
    url = f"/admin/billing/statement/{statement.pk}/adjust/"
    assert olga_client.get(url).status_code == 200
    page = olga_client.post(url, {"amount": "-10.00", "reason": ""})
    assert page.status_code == 200 and not StatementLine.objects.filter(kind="adjustment").exists()
    response = olga_client.post(url, {"amount": "-10.00", "reason": "calibration downtime"})
    assert response.status_code == 302
    line = StatementLine.objects.get(kind="adjustment")
    assert (line.amount, line.reason, line.created_by) == (
        Decimal("-10.00"),
        "calibration downtime",
        park.olga,
    )
    statement.refresh_from_db()
    assert statement.total == Decimal("90.00")
    # A final statement never changes: the correction goes on the next open month.
    Statement.objects.filter(pk=statement.pk).update(status="final")
    response = olga_client.post(url, {"amount": "5.00", "reason": "goodwill"})
    assert response.status_code == 302
    statement.refresh_from_db()
    assert statement.total == Decimal("90.00")
    correction = StatementLine.objects.get(reason="goodwill")
    assert correction.corrects == statement and correction.statement.month.month == 4
    assert olga_client.get("/admin/billing/statement/999999/adjust/").status_code == 404
