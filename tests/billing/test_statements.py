"""Monthly statements: drafts follow usage, closing, never changed after closing (service and
database), adjustments with who and why, totals per project, RMB, the close command."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.core.management import CommandError, call_command
from django.db import DatabaseError, transaction

from booking.billing import selectors, services
from booking.billing.models import LineKind, Statement, StatementLine, StatementStatus
from booking.errors import ParkError
from tests.billing.conftest import MARCH, at, card, closed_booking

APRIL = dt.date(2026, 4, 1)


@pytest.fixture
def priced(park):
    card(peak_price=Decimal("100.00"), off_peak_price=Decimal("60.00"))
    return park


def test_a_draft_follows_usage(priced):
    park = priced
    statement = services.statement_for(tenant=park.acme, month=MARCH)
    closed_booking(park, start=at(3, 10))
    assert services.statement_refresh(statement=statement).total == Decimal("100.00")
    closed_booking(park, start=at(4, 10))
    assert services.statement_refresh(statement=statement).total == Decimal("200.00")
    # April's usage is not March's.
    closed_booking(park, start=at(1, 10, month=4))
    assert services.statement_refresh(statement=statement).total == Decimal("200.00")


def test_a_closed_statement_never_changes(priced):
    park = priced
    closed_booking(park, start=at(3, 10))
    statement = services.statement_close(
        statement=services.statement_for(tenant=park.acme, month=MARCH), by=park.olga
    )
    assert statement.status == StatementStatus.FINAL
    assert statement.closed_by == park.olga and statement.total == Decimal("100.00")
    closed_booking(park, start=at(4, 10))  # late usage
    with pytest.raises(ParkError) as refused:
        services.statement_refresh(statement=statement)
    assert refused.value.code == "statement_closed"
    with pytest.raises(ParkError):
        services.statement_close(statement=statement)
    statement.refresh_from_db()
    assert statement.total == Decimal("100.00") and statement.lines.count() == 1


def test_the_database_refuses_to_change_a_final_statement_or_its_lines(priced):
    park = priced
    closed_booking(park, start=at(3, 10))
    statement = services.statement_close(
        statement=services.statement_for(tenant=park.acme, month=MARCH)
    )
    line = statement.lines.get()
    for write in (
        lambda: Statement.objects.filter(pk=statement.pk).update(total=1),
        lambda: Statement.objects.filter(pk=statement.pk).update(status=StatementStatus.DRAFT),
        lambda: StatementLine.objects.filter(pk=line.pk).update(amount=1),
        lambda: StatementLine.objects.filter(pk=line.pk).delete(),
        lambda: StatementLine.objects.create(
            statement=statement, project=line.project, kind="usage", description="x", amount=1
        ),
    ):
        with pytest.raises(DatabaseError), transaction.atomic():
            write()
    line.refresh_from_db()
    assert line.amount == Decimal("100.00")


def test_a_month_not_over_cannot_be_closed(priced):
    park = priced
    statement = services.statement_for(tenant=park.acme, month=MARCH)
    with pytest.raises(ParkError) as refused:
        services.statement_close(statement=statement, now=at(31, 23))
    assert refused.value.code == "month_not_over"
    assert Statement.objects.get(pk=statement.pk).status == StatementStatus.DRAFT


def test_an_adjustment_on_a_draft_says_who_and_why_and_survives_refreshes(priced):
    park = priced
    closed_booking(park, start=at(3, 10))
    statement = services.statement_refresh(
        statement=services.statement_for(tenant=park.acme, month=MARCH)
    )
    line = services.adjustment_add(
        statement=statement, amount=Decimal("-25.00"), reason="instrument fault", by=park.olga
    )
    assert (line.kind, line.created_by, line.reason) == (
        LineKind.ADJUSTMENT,
        park.olga,
        "instrument fault",
    )
    statement = services.statement_refresh(statement=statement)
    assert statement.total == Decimal("75.00")
    with pytest.raises(ParkError) as refused:
        services.adjustment_add(statement=statement, amount=Decimal("5"), reason=" ", by=park.olga)
    assert refused.value.field == "reason"
    with pytest.raises(ParkError) as refused:
        services.adjustment_add(
            statement=statement, amount=Decimal("0.001"), reason="x", by=park.olga
        )
    assert refused.value.code == "bad_amount"


def test_a_correction_of_a_closed_month_goes_on_the_next_open_month(priced):
    park = priced
    closed_booking(park, start=at(3, 10))
    march = services.statement_close(
        statement=services.statement_for(tenant=park.acme, month=MARCH)
    )
    line = services.adjustment_add(
        statement=march, amount=Decimal("-100.00"), reason="refund: booking lost", by=park.olga
    )
    assert line.statement.month == APRIL and line.corrects == march
    assert "2026-03" in line.description
    march.refresh_from_db()
    assert march.total == Decimal("100.00")
    assert services.statement_for(tenant=park.acme, month=APRIL).total == Decimal("-100.00")


def test_totals_per_project_and_the_total_is_the_sum_of_lines(priced):
    park = priced
    lab = services.project_create(
        tenant=park.acme, name="Grippers", principal_investigator="Dr Lee", funding_code="ITF-1"
    )
    b1 = closed_booking(park, start=at(3, 10))
    closed_booking(park, start=at(4, 10), hours=2)  # default project
    services.booking_project_set(booking=b1, project=lab)
    closed_booking(park, start=at(7, 10))  # Saturday, off-peak: default project
    statement = services.statement_refresh(
        statement=services.statement_for(tenant=park.acme, month=MARCH)
    )
    services.adjustment_add(
        statement=statement, amount=Decimal("10.00"), reason="setup", by=park.olga, project=lab
    )
    statement.refresh_from_db()
    totals = {p["project"]: p["total"] for p in selectors.project_totals(statement)}
    assert totals == {"General": Decimal("260.00"), "Grippers": Decimal("110.00")}
    assert (
        statement.total == sum(line.amount for line in statement.lines.all()) == Decimal("370.00")
    )
    assert statement.total == sum(totals.values())


def test_a_booking_is_charged_only_to_a_project_of_its_tenant(priced):
    park = priced
    other = services.project_create(tenant=park.globex, name="Alloys", principal_investigator="X")
    booking = closed_booking(park, start=at(3, 10))
    with pytest.raises(ParkError) as refused:
        services.booking_project_set(booking=booking, project=other)
    assert refused.value.code == "project_of_other_tenant"
    assert services.booking_project_set(booking=booking, project=None).is_default


def test_rmb_is_shown_at_the_configured_rate(priced, settings):
    park = priced
    settings.BILLING_RMB_PER_HKD = "0.92"
    closed_booking(park, start=at(3, 10))
    statement = services.statement_refresh(
        statement=services.statement_for(tenant=park.acme, month=MARCH)
    )
    assert statement.rmb_rate == Decimal("0.92")
    assert selectors.in_rmb(statement, statement.total) == Decimal("92.00")
    settings.BILLING_RMB_PER_HKD = None
    statement = services.statement_refresh(statement=statement)
    assert selectors.in_rmb(statement, statement.total) is None


def test_statements_close_closes_every_tenant_once(priced, capsys):
    park = priced
    closed_booking(park, start=at(3, 10))
    closed_booking(park, start=at(3, 12), tenant=park.globex)  # enterprise: no rate → 0
    call_command("statements_close", "--month", "2026-03")
    assert "closed 2 statements" in capsys.readouterr().out
    assert set(Statement.objects.values_list("tenant__slug", "status", "total")) == {
        ("acme", "final", Decimal("100.00")),
        ("globex", "final", Decimal("0.00")),
    }
    call_command("statements_close", "--month", "2026-03")
    assert "closed 0 statements, 2 already final" in capsys.readouterr().out
    with pytest.raises(CommandError, match="bad_month"):
        call_command("statements_close", "--month", "March")


def test_closing_the_month_keeps_a_drafts_adjustments_and_replaces_its_charges(priced):
    park = priced
    closed_booking(park, start=at(3, 10))
    draft = services.statement_refresh(
        statement=services.statement_for(tenant=park.acme, month=MARCH)
    )
    services.adjustment_add(statement=draft, amount=Decimal("-15.00"), reason="slow", by=park.olga)
    closed_booking(park, start=at(4, 10))  # after the last refresh
    assert services.statements_close_month(month=MARCH) == {"closed": 2, "already_final": 0}
    draft.refresh_from_db()
    assert (draft.status, draft.total) == ("final", Decimal("185.00"))
    kinds = sorted(draft.lines.values_list("kind", "amount"))
    assert kinds == [("adjustment", Decimal("-15.00")), ("usage", Decimal("200.00"))]


def test_statements_csv_has_a_row_per_line(priced):
    park = priced
    closed_booking(park, start=at(3, 10))
    statement = services.statement_refresh(
        statement=services.statement_for(tenant=park.acme, month=MARCH)
    )
    rows = selectors.statements_csv([statement]).strip().splitlines()
    assert rows[0].startswith("tenant,month,status,project")
    assert rows[1].startswith("acme,2026-03,draft,General") and rows[1].count("100.00") == 2
