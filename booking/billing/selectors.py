"""Billing reads: a tenant's statements (managers only), totals per project, CSV rows."""

from __future__ import annotations

import csv
import io
from decimal import Decimal

from django.db.models import Count, Sum
from django.utils.translation import gettext as _

from booking.billing.charges import money
from booking.billing.models import Statement, StatementLine
from booking.errors import Forbidden, NotFound
from booking.tenancy.models import Membership, Tenant


def require_statement_reader(*, user, tenant: Tenant) -> None:
    """Statements are for the tenant's managers (and the park's operators): a member is told
    so (403 ``managers_only``); someone outside the tenant never gets this far (their token
    acts for their own tenant)."""
    if user.is_superuser:
        return
    role = (
        Membership.objects.filter(user=user, tenant=tenant).values_list("role", flat=True).first()
    )
    if role is None:
        raise NotFound("tenant")
    if role != Membership.Role.MANAGER:
        raise Forbidden("managers_only", _("Only the tenant's managers read its statements."))


def statements_of(*, tenant: Tenant):
    return (
        Statement.objects.filter(tenant=tenant)
        .annotate(line_count=Count("lines"))
        .order_by("-month")
    )


def statement_get(*, tenant: Tenant, pk: int) -> Statement:
    statement = Statement.objects.filter(tenant=tenant, pk=pk).select_related("tenant").first()
    if statement is None:
        raise NotFound("statement")
    return statement


def statement_lines(statement: Statement):
    return StatementLine.objects.filter(statement=statement).select_related(
        "project", "created_by", "corrects"
    )


def project_totals(statement: Statement) -> list[dict]:
    rows = (
        StatementLine.objects.filter(statement=statement)
        .values("project_id", "project__name", "project__funding_code", "project__budget")
        .annotate(total=Sum("amount"))
        .order_by("project__name")
    )
    return [
        {
            "project_id": r["project_id"],
            "project": r["project__name"],
            "funding_code": r["project__funding_code"],
            "budget": r["project__budget"],
            "total": money(r["total"] or Decimal(0)),
        }
        for r in rows
    ]


def in_rmb(statement: Statement, amount: Decimal) -> Decimal | None:
    if statement.rmb_rate is None:
        return None
    return money(amount * statement.rmb_rate)


CSV_HEADER = [
    "tenant",
    "month",
    "status",
    "project",
    "funding_code",
    "kind",
    "description",
    "band",
    "quantity",
    "unit_price_hkd",
    "amount_hkd",
    "reason",
    "by",
]


def statements_csv(statements) -> str:
    """One row per line of each statement (the park's finance system reads this)."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(CSV_HEADER)
    for statement in statements:
        for line in statement_lines(statement).order_by("project__name", "kind", "id"):
            writer.writerow(
                [
                    statement.tenant.slug,
                    f"{statement.month:%Y-%m}",
                    statement.status,
                    line.project.name,
                    line.project.funding_code,
                    line.kind,
                    line.description,
                    line.band,
                    line.quantity,
                    line.unit_price,
                    line.amount,
                    line.reason,
                    line.created_by.get_username() if line.created_by else "",
                ]
            )
    return out.getvalue()
