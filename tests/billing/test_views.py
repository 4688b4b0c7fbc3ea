"""The managers' statement pages: table, CSV, and 404 for anyone else."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.test import Client

from booking.billing import services
from tests.billing.conftest import MARCH, at, card, closed_booking


@pytest.fixture
def statements(park):
    card(peak_price=Decimal("100.00"), off_peak_price=Decimal("60.00"))
    closed_booking(park, start=at(3, 10))
    acme = services.statement_refresh(
        statement=services.statement_for(tenant=park.acme, month=MARCH)
    )
    services.adjustment_add(
        statement=acme, amount=Decimal("-12.50"), reason="late start", by=park.olga
    )
    globex = services.statement_for(tenant=park.globex, month=MARCH)
    return acme, globex


def client_for(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def test_a_manager_sees_the_table_and_downloads_the_csv(park, statements):
    acme, _globex = statements
    bob = client_for(park.bob)
    page = bob.get("/tenants/acme/statements/")
    assert page.status_code == 200
    assert b"2026-03" in page.content and b"87.50" in page.content
    page = bob.get(f"/tenants/acme/statements/{acme.pk}/")
    assert page.status_code == 200
    text = page.content.decode()
    assert "HKD 87.50" in text and "late start (olga)" in text and "General" in text
    csv = bob.get(f"/tenants/acme/statements/{acme.pk}/", {"format": "csv"})
    assert csv["Content-Type"].startswith("text/csv")
    assert "statement-acme-2026-03.csv" in csv["Content-Disposition"]
    assert b"adjustment" in csv.content and b"-12.50" in csv.content


def test_members_and_other_tenants_get_404(park, statements):
    acme, globex = statements
    assert client_for(park.alice).get("/tenants/acme/statements/").status_code == 404
    assert client_for(park.charlie).get(f"/tenants/acme/statements/{acme.pk}/").status_code == 404
    bob = client_for(park.bob)
    assert bob.get(f"/tenants/acme/statements/{globex.pk}/").status_code == 404
    assert bob.get("/tenants/globex/statements/").status_code == 404
    assert bob.get("/tenants/acme/statements/1x/").status_code == 404


def _pdf_text(content: bytes) -> str:
    import io

    from pypdf import PdfReader

    return "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(content)).pages)


def test_the_pdf_renders_with_the_totals_and_is_404_for_another_tenant(park, statements):
    acme, globex = statements
    bob = client_for(park.bob)
    pdf = bob.get(f"/tenants/acme/statements/{acme.pk}/", {"format": "pdf"})
    assert pdf.status_code == 200 and pdf["Content-Type"] == "application/pdf"
    assert "statement-acme-2026-03.pdf" in pdf["Content-Disposition"]
    assert pdf.content.startswith(b"%PDF")
    text = _pdf_text(pdf.content)
    assert "HKD 87.50" in text  # the total: 100.00 of the booking, -12.50 of the adjustment
    assert "100.00" in text and "-12.50" in text and "late start (olga)" in text
    assert bob.get(f"/tenants/acme/statements/{globex.pk}/", {"format": "pdf"}).status_code == 404
    assert (
        client_for(park.charlie)
        .get(f"/tenants/acme/statements/{acme.pk}/", {"format": "pdf"})
        .status_code
        == 404
    )


@pytest.mark.parametrize("language", ["zh-hant", "zh-hans"])
def test_the_pdf_in_chinese_holds_the_totals(park, statements, language):
    from booking.billing.pdf import statement_pdf

    acme, _globex = statements
    acme.refresh_from_db()
    acme.tenant.name = "艾克米科技"
    text = _pdf_text(statement_pdf(acme, language=language))
    title = {"zh-hant": "艾克米科技 的 2026-03 月結單", "zh-hans": "艾克米科技 的 2026-03 月结单"}
    total = {"zh-hant": "合計: HKD 87.50", "zh-hans": "合计: HKD 87.50"}
    assert title[language] in text and total[language] in text and "-12.50" in text
