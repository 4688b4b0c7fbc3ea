"""Web pages for tenant members. Views parse input and call services/selectors."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.db import connection
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render

from booking.selectors import quota_uses, tenants_for_user


def healthz(request: HttpRequest) -> JsonResponse:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
    return JsonResponse({"status": "ok"})


@login_required
def home(request: HttpRequest) -> HttpResponse:
    tenants = tenants_for_user(user=request.user)
    overview = [(tenant, quota_uses(tenant=tenant)) for tenant in tenants]
    return render(request, "booking/home.html", {"overview": overview})
