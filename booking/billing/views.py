"""The managers' statement pages: a tenant's statements, one statement (totals per project and
lines), its CSV and its PDF. Another tenant's statement, or a tenant one does not manage: 404."""

from __future__ import annotations

from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

from booking.billing import selectors
from booking.errors import NotFound
from booking.ids import plain_pk
from booking.tenancy.selectors import managed_tenants


def _managed(request: HttpRequest, slug: str):
    tenant = next((t for t in managed_tenants(user=request.user) if t.slug == slug), None)
    if tenant is None:
        raise Http404
    return tenant


@login_required
@require_GET
def statements_view(request: HttpRequest, slug: str) -> HttpResponse:
    tenant = _managed(request, slug)
    statements = list(selectors.statements_of(tenant=tenant))
    for s in statements:
        s.total_rmb = selectors.in_rmb(s, s.total)
    return render(request, "billing/statements.html", {"tenant": tenant, "statements": statements})


@login_required
@require_GET
def statement_view(request: HttpRequest, slug: str, pk: str) -> HttpResponse:
    tenant = _managed(request, slug)
    try:
        statement = selectors.statement_get(tenant=tenant, pk=plain_pk(pk, what="statement"))
    except NotFound:
        raise Http404 from None
    if request.GET.get("format") == "csv":
        response = HttpResponse(
            selectors.statements_csv([statement]), content_type="text/csv; charset=utf-8"
        )
        name = f"statement-{tenant.slug}-{statement.month:%Y-%m}.csv"
        response["Content-Disposition"] = f'attachment; filename="{name}"'
        return response
    if request.GET.get("format") == "pdf":
        from booking.billing.pdf import statement_pdf

        response = HttpResponse(statement_pdf(statement), content_type="application/pdf")
        name = f"statement-{tenant.slug}-{statement.month:%Y-%m}.pdf"
        response["Content-Disposition"] = f'attachment; filename="{name}"'
        return response
    projects = selectors.project_totals(statement)
    context = {
        "tenant": tenant,
        "statement": statement,
        "projects": projects,
        "lines": selectors.statement_lines(statement).order_by("project__name", "kind", "id"),
        "total_rmb": selectors.in_rmb(statement, statement.total),
        "peak": getattr(settings, "BILLING_PEAK_HOURS", (9, 18)),
    }
    return render(request, "billing/statement.html", context)
