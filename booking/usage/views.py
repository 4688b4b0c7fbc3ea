"""Usage pages: the check-in panel on a booking (htmx), the instrument kiosk and the kiosk PIN.

Views parse input and call the usage services; follow-up work starts after commit."""

from __future__ import annotations

import csv
import datetime as dt

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.html import format_html_join
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_GET, require_POST

from booking.bookings.models import Booking
from booking.bookings.selectors import booking_get
from booking.errors import NotFound, ParkError
from booking.usage import daily, followup, kiosk, reports, services, tasks
from booking.usage.selectors import booking_panel, kiosk_bookings
from resources.models import Resource


def _start_offer(result: services.CheckOut) -> None:
    if result.freed:
        pk = result.booking.pk
        transaction.on_commit(lambda: tasks.usage_offer_freed_time_task([pk]))


def _act(*, user, booking: Booking, action: str) -> Booking:
    if action == "check-in":
        return services.booking_check_in(user=user, booking=booking)
    result = services.booking_check_out(user=user, booking=booking)
    _start_offer(result)
    return result.booking


# ---- the panel on a booking's page --------------------------------------------------------


def _visible(request: HttpRequest, pk: str) -> Booking:
    try:
        return booking_get(user=request.user, pk=pk)
    except NotFound:
        raise Http404 from None


@login_required
@require_GET
def booking_panel_view(request: HttpRequest, pk: str) -> HttpResponse:
    booking = _visible(request, pk)
    return render(request, "usage/_panel.html", {"panel": booking_panel(booking=booking)})


@login_required
@require_POST
def booking_act_view(request: HttpRequest, pk: str, action: str) -> HttpResponse:
    """POST check-in / check-out from the booking's page; htmx gets the panel back."""
    booking = _visible(request, pk)
    followup.remember_language(user=request.user, language=request.LANGUAGE_CODE)
    error = None
    try:
        booking = _act(user=request.user, booking=booking, action=action)
    except NotFound:
        raise Http404 from None
    except ParkError as exc:
        error = exc.message
    if request.htmx:
        booking = _visible(request, pk)
        context = {"panel": booking_panel(booking=booking), "error": error}
        return render(request, "usage/_panel.html", context)
    if error:
        messages.error(request, error)
    elif action == "check-in":
        messages.success(request, _("Checked in: %(title)s.") % {"title": booking.title})
    else:
        messages.success(request, _("Checked out: %(title)s.") % {"title": booking.title})
    return redirect(reverse("booking_detail", args=[booking.pk]))


# ---- the kiosk ------------------------------------------------------------------------------


def _kiosk_context(request: HttpRequest, resource: Resource, **extra) -> dict:
    return {"resource": resource, "panels": kiosk_bookings(resource=resource), **extra}


@require_GET
def kiosk_view(request: HttpRequest, slug: str) -> HttpResponse:
    """The tablet beside an instrument: bookings whose check-in is open, and those in use.
    Anyone may see it (first names and times only); acting needs a sign-in or the PIN."""
    resource = get_object_or_404(Resource, slug=slug, active=True)
    return render(request, "usage/kiosk.html", _kiosk_context(request, resource))


@require_POST
def kiosk_act_view(request: HttpRequest, slug: str, pk: str, action: str) -> HttpResponse:
    """Check in/out at the kiosk: the signed-in user acts as themselves; otherwise the PIN of
    the booking's owner must be given."""
    resource = get_object_or_404(Resource, slug=slug, active=True)
    booking = (
        Booking.objects.filter(pk=pk if str(pk).isdigit() else None, resource=resource)
        .select_related("resource", "user")
        .first()
    )
    if booking is None:
        raise Http404
    error = done = None
    try:
        if request.user.is_authenticated:
            actor = request.user
        else:
            kiosk.kiosk_pin_verify(user=booking.user, pin=request.POST.get("pin", ""))
            actor = booking.user
        booking = _act(user=actor, booking=booking, action=action)
        done = booking
    except NotFound:
        error = _("This booking is not yours; sign in as its owner or use their PIN.")
    except ParkError as exc:
        error = exc.message
    context = _kiosk_context(request, resource, error=error, done=done)
    template = "usage/_kiosk_list.html" if request.htmx else "usage/kiosk.html"
    return render(request, template, context)


@login_required
def kiosk_pin_view(request: HttpRequest) -> HttpResponse:
    """Set one's personal kiosk PIN."""
    error = None
    if request.method == "POST":
        followup.remember_language(user=request.user, language=request.LANGUAGE_CODE)
        try:
            kiosk.kiosk_pin_set(user=request.user, pin=request.POST.get("pin", ""))
        except ParkError as exc:
            error = exc.message
        else:
            messages.success(request, _("Your kiosk PIN is set."))
            return redirect("usage:kiosk_pin")
    has_pin = hasattr(request.user, "kiosk_pin")
    return render(request, "usage/kiosk_pin.html", {"error": error, "has_pin": has_pin})


# ---- reports (operators) ------------------------------------------------------------------


def _report_period(request: HttpRequest) -> tuple[dt.date, dt.date, str, str, list[str]]:
    """Filters from the query string, with defaults (the last 12 weeks, by class)."""
    errors = []
    today = timezone.localdate()
    try:
        end = (
            dt.date.fromisoformat(request.GET.get("end") or "")
            if request.GET.get("end")
            else (today + dt.timedelta(days=1))
        )
    except ValueError:
        errors.append(_("end: enter a date as YYYY-MM-DD."))
        end = today + dt.timedelta(days=1)
    try:
        start = (
            dt.date.fromisoformat(request.GET["start"])
            if request.GET.get("start")
            else end - dt.timedelta(weeks=12)
        )
    except ValueError:
        errors.append(_("start: enter a date as YYYY-MM-DD."))
        start = end - dt.timedelta(weeks=12)
    if end <= start:
        errors.append(_("end: the end must be after the start."))
        start = end - dt.timedelta(weeks=12)
    if (end - start).days > MAX_REPORT_DAYS:
        errors.append(_("start: a report covers at most two years."))
        start = end - dt.timedelta(days=MAX_REPORT_DAYS)
    bucket = request.GET.get("bucket", "week")
    if bucket not in reports.BUCKETS:
        bucket = "week"
    group = request.GET.get("group", "class")
    if group not in reports.GROUPS:
        group = "class"
    return start, end, bucket, group, errors


MAX_REPORT_DAYS = 2 * 366


def _pct(value):
    return "" if value is None else f"{100 * value:.1f}"


def _num(value):
    return "" if value is None else f"{value:.2f}"


def _tables(start, end, bucket, group) -> dict[str, tuple[list[str], list[list]]]:
    """Every report table as (header, rows): what the page shows and the CSV exports."""
    util = reports.utilisation(start=start, end=end, bucket=bucket, group=group)
    rounds = reports.round_fairness(start=start, end=end)
    waits = reports.waitlist_waits(start=start, end=end)
    funder = reports.funder_report(start=start, end=end)
    return {
        "utilisation": (
            [
                _("Period"),
                _("Group"),
                _("Capacity hours"),
                _("Booked hours"),
                _("Used hours"),
                _("No-show hours"),
                _("Booked %"),
                _("Used %"),
                _("Bookings"),
                _("No-shows"),
                _("No-show rate %"),
            ],
            [
                [
                    r.bucket.isoformat(),
                    r.label,
                    _num(r.capacity_hours),
                    _num(r.booked_hours),
                    _num(r.used_hours),
                    _num(r.no_show_hours),
                    _pct(r.booked_share),
                    _pct(r.utilisation),
                    r.bookings,
                    r.no_shows,
                    _pct(r.no_show_rate),
                ]
                for r in util
            ],
        ),
        "rounds": (
            [
                _("Round"),
                _("Period start"),
                _("Status"),
                _("Fairness floor"),
                _("Jain's index"),
                _("Requests"),
                _("Granted"),
            ],
            [
                [
                    r.name,
                    timezone.localtime(r.period_start).date().isoformat(),
                    r.status,
                    "" if r.floor is None else f"{r.floor:.3f}",
                    "" if r.jain is None else f"{r.jain:.3f}",
                    r.requests if r.requests is not None else "",
                    r.granted if r.granted is not None else "",
                ]
                for r in rounds
            ],
        ),
        "waits": (
            [
                _("Round"),
                _("Promoted from the waitlist"),
                _("Median wait (hours)"),
                _("Mean wait (hours)"),
                _("Still waiting"),
            ],
            [
                [
                    r.name,
                    r.promoted,
                    _num(r.median_wait_hours),
                    _num(r.mean_wait_hours),
                    r.still_waiting,
                ]
                for r in waits
            ],
        ),
        "funder": (
            [
                _("Tier"),
                _("Tenants"),
                _("Users"),
                _("Bookings"),
                _("Booked hours"),
                _("Used hours"),
                _("Compute jobs"),
                _("Job GPU-hours"),
            ],
            [
                [
                    r.label,
                    r.tenants,
                    r.users,
                    r.bookings,
                    _num(r.booked_hours),
                    _num(r.used_hours),
                    r.jobs,
                    _num(r.job_gpu_hours),
                ]
                for r in funder
            ],
        ),
        "_util": util,
        "_rounds": rounds,
    }


def _table_body(rows: list[list]) -> str:
    """The rows as HTML, escaped; built here because a year of rows by resource is thousands
    of cells, which the template language renders ten times slower."""
    return format_html_join(
        "",
        "<tr>{}</tr>",
        ((format_html_join("", "<td>{}</td>", ((cell,) for cell in row)),) for row in rows),
    )


def _chart(util) -> dict:
    """A server-side SVG bar chart: capacity, booked and used hours per period (all groups)."""
    per: dict = {}
    for r in util:
        p = per.setdefault(r.bucket, [0.0, 0.0, 0.0])
        p[0] += r.capacity_hours or 0.0
        p[1] += r.booked_hours
        p[2] += r.used_hours
    periods = sorted(per)
    top = max([v for p in per.values() for v in p] or [0.0]) or 1.0
    width, height, pad = 720, 220, 30
    slot = (width - pad) / max(1, len(periods))
    bar = max(2.0, slot / 4)
    bars = []
    for i, period in enumerate(periods):
        for j, (value, css) in enumerate(zip(per[period], ("cap", "booked", "used"), strict=True)):
            h = (height - pad) * value / top
            bars.append(
                {
                    "x": round(pad + i * slot + j * bar, 1),
                    "y": round(height - pad - h, 1),
                    "w": round(bar - 1, 1),
                    "h": round(h, 1),
                    "css": css,
                    "title": f"{period.isoformat()}: {value:.1f}",
                }
            )
    labels = [
        {"x": round(pad + i * slot, 1), "text": p.strftime("%m-%d")} for i, p in enumerate(periods)
    ]
    return {
        "width": width,
        "height": height,
        "bars": bars,
        "labels": labels,
        "top": f"{top:.0f}",
        "base": height - pad,
    }


def _jain_chart(rounds) -> dict:
    points = [r for r in rounds if r.jain is not None or r.floor is not None]
    width, height, pad = 720, 160, 30
    step = (width - 2 * pad) / max(1, len(points) - 1)

    def line(attr):
        pts = []
        for i, r in enumerate(points):
            v = getattr(r, attr)
            if v is not None:
                pts.append(
                    f"{pad + i * step:.1f},{height - pad - (height - 2 * pad) * min(v, 1.0):.1f}"
                )
        return " ".join(pts)

    return {
        "width": width,
        "height": height,
        "jain": line("jain"),
        "floor": line("floor"),
        "n": len(points),
    }


@login_required
@require_GET
def reports_view(request: HttpRequest) -> HttpResponse:
    """Operators' usage reports; ``?export=<table>`` answers that table as CSV."""
    if not services.is_operator(request.user):
        raise PermissionDenied
    start, end, bucket, group, errors = _report_period(request)
    pending = daily.usage_refresh()
    tables = _tables(start, end, bucket, group)
    export = request.GET.get("export")
    if export:
        if export not in EXPORTS:
            raise Http404
        header, rows = tables[export]
        response = HttpResponse(content_type="text/csv; charset=utf-8")
        response["Content-Disposition"] = (
            f'attachment; filename="park-{export}-{start.isoformat()}-{end.isoformat()}.csv"'
        )
        writer = csv.writer(response)
        writer.writerow([str(h) for h in header])
        writer.writerows(rows)
        return response
    query = request.GET.copy()
    query.pop("export", None)
    context = {
        "start": start,
        "end": end,
        "bucket": bucket,
        "group": group,
        "errors": errors,
        "groups": [(g, GROUP_LABELS[g]) for g in reports.GROUPS],
        "tables": [
            (name, TABLE_TITLES[name], header, _table_body(rows))
            for name in EXPORTS
            for header, rows in [tables[name]]
        ],
        "chart": _chart(tables["_util"]),
        "jain_chart": _jain_chart(tables["_rounds"]),
        "query": query.urlencode(),
        "pending": pending,
    }
    return render(request, "usage/reports.html", context)


EXPORTS = ("utilisation", "rounds", "waits", "funder")
TABLE_TITLES = {
    "utilisation": gettext_lazy("Utilisation: capacity, booked and used hours"),
    "rounds": gettext_lazy("Fairness of each round"),
    "waits": gettext_lazy("Waitlist waiting times"),
    "funder": gettext_lazy("Funder report per tenant tier"),
}
GROUP_LABELS = {
    "resource": gettext_lazy("Resource"),
    "class": gettext_lazy("Resource class"),
    "tenant": gettext_lazy("Tenant"),
    "tier": gettext_lazy("Tier"),
    "park": gettext_lazy("Home park"),
}
