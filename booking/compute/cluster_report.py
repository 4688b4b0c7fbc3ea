"""Operators' report of cross-boundary use: jobs run per cluster, tenant, data class and month
(with GPU-hours, and the cluster's rate factor for billing), as a page and as CSV."""

from __future__ import annotations

import csv
import datetime as dt

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.db.models import Count, Sum
from django.db.models.functions import TruncMonth
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone
from django.utils.translation import gettext as _

from booking.compute.models import ComputeJob
from booking.compute.residency import DataClass


def _is_operator(user) -> bool:
    return bool(user.is_authenticated and (user.is_superuser or user.is_staff))


def _months(request: HttpRequest) -> tuple[dt.date, dt.date, list[str]]:
    """The report's months: ``start`` and ``end`` (YYYY-MM, end inclusive); a year by default."""
    today = timezone.localdate()
    errors = []

    def month(name: str, default: dt.date) -> dt.date:
        raw = request.GET.get(name, "")
        if not raw:
            return default
        try:
            value = dt.datetime.strptime(raw, "%Y-%m").date()
        except ValueError:
            errors.append(_("%(field)s: a month as YYYY-MM.") % {"field": name})
            return default
        if not 2000 <= value.year <= 2200:
            errors.append(_("%(field)s: a month as YYYY-MM.") % {"field": name})
            return default
        return value

    end = month("end", today.replace(day=1))
    start = month("start", (end - dt.timedelta(days=330)).replace(day=1))
    if start > end:
        errors.append(_("start: the first month must not be after the last."))
        start = end
    return start, end, errors


def cluster_runs(*, start: dt.date, end: dt.date) -> list[dict]:
    """Jobs that ran (were sent to a cluster) per month, cluster, tenant and data class."""
    after = (end.replace(day=28) + dt.timedelta(days=4)).replace(day=1)
    labels = dict(DataClass.choices)
    rows = (
        ComputeJob.objects.filter(
            submitted_at__date__gte=start, submitted_at__date__lt=after, cluster__isnull=False
        )
        .annotate(month=TruncMonth("submitted_at"))
        .values(
            "month",
            "cluster__name",
            "cluster__jurisdiction",
            "cluster__gpu_rate_factor",
            "tenant__name",
            "data_class",
        )
        .annotate(jobs=Count("id"), gpu_hours=Sum("gpu_hours"))
        .order_by("month", "cluster__name", "tenant__name", "data_class")
    )
    out = []
    for r in rows:
        month = r["month"]
        out.append(
            {
                "month": f"{month:%Y-%m}" if month else "",
                "cluster": r["cluster__name"],
                "jurisdiction": r["cluster__jurisdiction"],
                "tenant": r["tenant__name"],
                "data_class": r["data_class"],
                "data_class_label": str(labels.get(r["data_class"], r["data_class"])),
                "jobs": r["jobs"],
                "gpu_hours": r["gpu_hours"] or 0,
                "rate_factor": r["cluster__gpu_rate_factor"],
            }
        )
    return out


@login_required
def cluster_report_view(request: HttpRequest) -> HttpResponse:
    """Runs by cluster, tenant, data class and month; ``?export=csv`` answers it as CSV."""
    if not _is_operator(request.user):
        raise PermissionDenied
    start, end, errors = _months(request)
    rows = cluster_runs(start=start, end=end)
    if request.GET.get("export") == "csv":
        response = HttpResponse(content_type="text/csv; charset=utf-8")
        response["Content-Disposition"] = (
            f'attachment; filename="park-cluster-runs-{start:%Y-%m}-{end:%Y-%m}.csv"'
        )
        writer = csv.writer(response)
        writer.writerow(
            [
                _("Month"),
                _("Cluster"),
                _("Jurisdiction"),
                _("Tenant"),
                _("Data class"),
                _("Jobs"),
                _("GPU-hours"),
                _("Rate factor"),
            ]
        )
        for r in rows:
            writer.writerow(
                [
                    r["month"],
                    r["cluster"],
                    r["jurisdiction"],
                    r["tenant"],
                    r["data_class"],
                    r["jobs"],
                    r["gpu_hours"],
                    r["rate_factor"],
                ]
            )
        return response
    return render(
        request,
        "compute/cluster_report.html",
        {"rows": rows, "start": start, "end": end, "errors": errors},
    )
