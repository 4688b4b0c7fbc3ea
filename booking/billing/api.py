"""Statements and estimates in the researcher API. Statements are the acting tenant's only
(another tenant's id answers 404) and for managers (a member gets 403 ``managers_only``)."""

from __future__ import annotations

from django.http import HttpRequest
from django.utils.translation import gettext as _
from ninja import Query, Router

from booking.api_common import Id, responses
from booking.billing import estimates, selectors, services
from booking.billing.desk import BillingProjectDesk
from booking.billing.models import Statement
from booking.billing.schemas import (
    EstimateIn,
    EstimateOut,
    StatementDetailOut,
    StatementPageOut,
)
from booking.errors import NotFound, ParkError
from booking.tokens.auth import READ, Caller
from resources.models import Resource

router = Router()


def statement_out(statement: Statement) -> dict:
    rmb = selectors.in_rmb(statement, statement.total)
    return {
        "id": statement.pk,
        "tenant": statement.tenant.slug,
        "month": f"{statement.month:%Y-%m}",
        "status": statement.status,
        "total_hkd": str(statement.total),
        "total_rmb": None if rmb is None else str(rmb),
        "rmb_per_hkd": None if statement.rmb_rate is None else str(statement.rmb_rate),
        "closed_at": statement.closed_at,
    }


@router.get("/statements", auth=READ, response=responses({200: StatementPageOut}, without=(409,)))
def statements_view(request: HttpRequest):
    """The acting tenant's monthly statements, newest first (managers only; amounts in HKD as
    decimal strings)."""
    caller: Caller = request.auth
    selectors.require_statement_reader(user=caller.user, tenant=caller.tenant)
    items = [statement_out(s) for s in selectors.statements_of(tenant=caller.tenant)]
    return {"items": items, "count": len(items)}


@router.get(
    "/statements/{statement_id}",
    auth=READ,
    response=responses({200: StatementDetailOut}, without=(409,)),
)
def statement_view(request: HttpRequest, statement_id: Id):
    """One statement with its totals per project and its lines (managers only; another
    tenant's statement: 404)."""
    caller: Caller = request.auth
    selectors.require_statement_reader(user=caller.user, tenant=caller.tenant)
    statement = selectors.statement_get(tenant=caller.tenant, pk=statement_id)
    body = statement_out(statement)
    body["projects"] = [
        {
            "project_id": p["project_id"],
            "project": p["project"],
            "funding_code": p["funding_code"],
            "total_hkd": str(p["total"]),
        }
        for p in selectors.project_totals(statement)
    ]
    body["lines"] = [
        {
            "id": line.pk,
            "project_id": line.project_id,
            "kind": line.kind,
            "description": line.description,
            "band": line.band,
            "quantity": str(line.quantity),
            "unit_price_hkd": str(line.unit_price),
            "amount_hkd": str(line.amount),
            "reason": line.reason,
            "created_by": line.created_by.get_username() if line.created_by else None,
            "corrects_statement_id": line.corrects_id,
        }
        for line in selectors.statement_lines(statement).order_by("project__name", "kind", "id")
    ]
    return body


def _text(value) -> str | None:
    return None if value is None else str(value)


@router.get("/estimate", auth=READ, response=responses({200: EstimateOut}, without=(409,)))
def estimate_view(request: HttpRequest, query: Query[EstimateIn]):
    """What a booking of ``resource`` from ``start`` to ``end`` would cost the acting tenant
    if used as booked (HKD; ``priced`` false when no rate card applies). A job's cost: the
    GPU-hours it asks for as a booking of a GPU node (``units`` GPUs). ``project``: one of the
    tenant's projects (another tenant's answers 422 ``unknown_project``)."""
    caller: Caller = request.auth
    if query.end <= query.start:
        raise ParkError(
            "end_before_start", _("The end must be after the start."), field="end", status=422
        )
    resource = Resource.objects.filter(slug=query.resource, active=True).first()
    if resource is None:
        raise NotFound("resource", field="resource")
    project = BillingProjectDesk().check(tenant=caller.tenant, project=query.project)
    estimate = estimates.booking_estimate(
        tenant=caller.tenant, resource=resource, start=query.start, end=query.end, units=query.units
    )
    return {
        "resource": resource.slug,
        "start": query.start,
        "end": query.end,
        "units": query.units,
        "cost_hkd": None if estimate is None else str(estimate.total),
        "priced": estimate is not None,
        "project_id": project.pk if project else services.default_project(caller.tenant).pk,
        "cost_rmb": _text(estimate.total_rmb if estimate else None),
        "rmb_per_hkd": _text(estimate.rmb_per_hkd if estimate else None),
    }
