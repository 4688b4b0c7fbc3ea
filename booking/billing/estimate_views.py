"""The estimated cost on a member's booking form (htmx partial): the booking or the round
request as typed, priced by ``estimates.booking_estimate`` (the statements' own pricing)."""

from __future__ import annotations

import datetime as dt

from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils.translation import gettext_lazy as _
from django.views.decorators.http import require_POST

from booking.billing import charges, estimates
from booking.bookings.forms import BookingForm, RoundRequestForm
from booking.bookings.selectors import resource_get
from booking.errors import NotFound
from booking.tenancy.selectors import tenants_for_user
from resources.models import BookingMode

BAND_LABELS = {
    ("hour", charges.PEAK): _("Peak hours"),
    ("hour", charges.OFF_PEAK): _("Off-peak hours"),
    ("gpu_hour", charges.PEAK): _("Peak GPU-hours"),
    ("gpu_hour", charges.OFF_PEAK): _("Off-peak GPU-hours"),
    ("run", charges.PEAK): _("Run starting in peak hours"),
    ("run", charges.OFF_PEAK): _("Run starting off-peak"),
}
MINIMUM_LABEL = _("Top-up to the minimum charge")


def _times(form, round_mode: bool) -> tuple[dt.datetime | None, dt.datetime | None]:
    data = form.cleaned_data
    if round_mode:
        start, hours = data.get("earliest_start"), data.get("duration_hours")
        if start is None or hours is None:
            return None, None
        return start, start + dt.timedelta(minutes=int(hours * 60))
    return data.get("start"), data.get("end")


@login_required
@require_POST
def booking_estimate_view(request: HttpRequest, slug: str) -> HttpResponse:
    """What the booking or round request being typed would cost the tenant it is for (the
    member's own tenants only), updated as times, GPUs or the project change."""
    try:
        resource = resource_get(slug=slug)
    except NotFound:
        raise Http404 from None
    round_mode = resource.booking_mode == BookingMode.ROUND
    data = request.POST.copy()
    if not data.get("title"):
        data["title"] = "-"  # the estimate does not wait for a title
    cls = RoundRequestForm if round_mode else BookingForm
    form = cls(data, resource=resource, tenants=tenants_for_user(user=request.user))
    form.is_valid()
    tenant = form.cleaned_data.get("tenant")
    start, end = _times(form, round_mode)
    context = {"round_mode": round_mode, "estimate": None, "unpriced": False, "lines": []}
    if "project" in form.errors:
        context["project_error"] = form.errors["project"][0]
    elif tenant is not None and start is not None and end is not None and end > start:
        estimate = estimates.booking_estimate(
            tenant=tenant,
            resource=resource,
            start=start,
            end=end,
            units=form.cleaned_data.get("units") or 1,
        )
        context["estimate"] = estimate
        context["unpriced"] = estimate is None
        if estimate is not None:
            context["lines"] = [
                {
                    "label": MINIMUM_LABEL
                    if line.kind == "minimum"
                    else BAND_LABELS.get((estimate.unit, line.band), line.band),
                    "quantity": None if line.kind == "minimum" else line.quantity.normalize(),
                    "unit_price": line.unit_price,
                    "amount": line.amount,
                }
                for line in estimate.lines
            ]
    return render(request, "billing/_estimate.html", context)
