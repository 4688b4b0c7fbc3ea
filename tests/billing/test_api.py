"""GET /statements and /statements/{id}: tenant-scoped, managers only; GET /estimate."""

from __future__ import annotations

from decimal import Decimal

from booking.billing import services
from tests.billing.conftest import MARCH, at, card, closed_booking


def _statements(park):
    card(peak_price=Decimal("100.00"), off_peak_price=Decimal("60.00"))
    closed_booking(park, start=at(3, 10))
    acme = services.statement_refresh(
        statement=services.statement_for(tenant=park.acme, month=MARCH)
    )
    globex = services.statement_refresh(
        statement=services.statement_for(tenant=park.globex, month=MARCH)
    )
    return acme, globex


def test_a_manager_lists_and_reads_the_tenants_statements(park, bob_api, settings):
    settings.BILLING_RMB_PER_HKD = "0.9"
    acme, _globex = _statements(park)
    acme = services.statement_close(statement=acme)
    response = bob_api.get("/statements")
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["count"] == 1
    assert body["items"][0] == {
        "id": acme.pk,
        "tenant": "acme",
        "month": "2026-03",
        "status": "final",
        "total_hkd": "100.00",
        "total_rmb": "90.00",
        "rmb_per_hkd": "0.900000",
        "closed_at": body["items"][0]["closed_at"],
    }
    detail = bob_api.get(f"/statements/{acme.pk}").json()
    assert detail["projects"] == [
        {
            "project_id": detail["projects"][0]["project_id"],
            "project": "General",
            "funding_code": "",
            "total_hkd": "100.00",
        }
    ]
    assert [(x["kind"], x["quantity"], x["amount_hkd"]) for x in detail["lines"]] == [
        ("usage", "1.0000", "100.00")
    ]
    assert sum(Decimal(x["amount_hkd"]) for x in detail["lines"]) == Decimal(detail["total_hkd"])


def test_a_member_is_refused_with_a_stable_code(park, alice_api):
    acme, _globex = _statements(park)
    for path in ("/statements", f"/statements/{acme.pk}"):
        response = alice_api.get(path)
        assert response.status_code == 403
        assert response.json()["code"] == "managers_only"


def test_another_tenants_statement_is_404(park, bob_api):
    _acme, globex = _statements(park)
    response = bob_api.get(f"/statements/{globex.pk}")
    assert response.status_code == 404
    assert response.json()["code"] == "not_found"
    assert bob_api.get("/statements/999999").status_code == 404


def test_the_estimate_before_booking(park, alice_api):
    card(peak_price=Decimal("100.00"), off_peak_price=Decimal("60.00"))
    params = {
        "resource": "confocal-1",
        "start": at(2, 17).isoformat(),
        "end": at(2, 19).isoformat(),
    }
    body = alice_api.get("/estimate", params).json()
    assert (body["cost_hkd"], body["priced"]) == ("160.00", True)
    response = alice_api.get("/estimate", {**params, "end": params["start"]})
    assert response.status_code == 422 and response.json()["field"] == "end"
    response = alice_api.get("/estimate", {**params, "resource": "nope"})
    assert response.status_code == 404 and response.json()["field"] == "resource"
    body = alice_api.get("/estimate", {**params, "resource": "epi"}).json()
    assert (body["cost_hkd"], body["priced"]) == (None, False)


def test_the_estimate_names_the_project_and_refuses_another_tenants(
    park, alice_api, charlie_api, settings
):
    settings.BILLING_RMB_PER_HKD = "0.9"
    card(peak_price=Decimal("100.00"), off_peak_price=Decimal("60.00"))
    grant = services.project_create(
        tenant=park.acme, name="Imaging grant", principal_investigator="Dr Chan"
    )
    params = {
        "resource": "confocal-1",
        "start": at(2, 17).isoformat(),
        "end": at(2, 19, 30).isoformat(),
    }
    body = alice_api.get("/estimate", {**params, "project": grant.pk}).json()
    assert (body["cost_hkd"], body["project_id"]) == ("190.00", grant.pk)
    assert (body["cost_rmb"], body["rmb_per_hkd"]) == ("171.00", "0.9")
    body = alice_api.get("/estimate", params).json()
    assert body["project_id"] == services.default_project(park.acme).pk
    # charlie (Globex) cannot estimate with Acme's project: it is not one of his tenant's.
    response = charlie_api.get("/estimate", {**params, "project": grant.pk})
    assert response.status_code == 422
    assert (response.json()["code"], response.json()["field"]) == ("unknown_project", "project")
