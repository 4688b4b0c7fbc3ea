"""Pages that change an existing booking: new times, and cancelling an occurrence of a
recurring series with all following ones."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from booking.bookings.changes import booking_or_request_change
from booking.bookings.forms import BookingChangeForm, RequestChangeForm
from booking.bookings.models import BookingStatus
from booking.bookings.selectors import booking_get
from booking.bookings.series import booking_cancel_following
from booking.errors import NotFound, ParkError
from booking.ui import form_errors, ui_error


@login_required
@require_POST
def booking_change_view(request: HttpRequest, pk: str) -> HttpResponse:
    """Move or shorten a booking, give back the unused end of a running one, or give a round
    request a new window or duration before the cut-off."""
    try:
        booking = booking_get(user=request.user, pk=pk)
    except NotFound:
        raise Http404 from None
    is_request = booking.status == BookingStatus.REQUESTED
    form_class = RequestChangeForm if is_request else BookingChangeForm
    form = form_class(request.POST, booking=booking)
    if not form.is_valid():
        for error in form_errors(form):
            messages.error(request, f"{error['rule']}: {error['message']}")
        return redirect(reverse("booking_detail", args=[booking.pk]))
    data = form.cleaned_data
    if is_request:
        times = {
            "earliest_start": data["earliest_start"],
            "latest_end": data["latest_end"],
            "duration_minutes": int(data["duration_hours"] * 60),
        }
    else:
        times = {"start": data["start"], "end": data["end"]}
    try:
        booking_or_request_change(user=request.user, booking=booking, **times)
    except NotFound:
        raise Http404 from None
    except ParkError as exc:
        for error in getattr(exc, "errors", [exc]):
            shown = ui_error(error)
            messages.error(request, f"{shown['rule']}: {shown['message']}")
    else:
        messages.success(request, _("Changed: %(title)s.") % {"title": booking.title})
    return redirect(reverse("booking_detail", args=[booking.pk]))


@login_required
@require_POST
def booking_cancel_following_view(request: HttpRequest, pk: str) -> HttpResponse:
    """Cancel an occurrence of a recurring series and every later one not yet started."""
    try:
        booking = booking_get(user=request.user, pk=pk)
        cancelled = booking_cancel_following(user=request.user, booking=booking)
    except NotFound:
        raise Http404 from None
    except ParkError as exc:
        messages.error(request, ui_error(exc)["message"])
        return redirect(reverse("booking_detail", args=[booking.pk]))
    messages.success(
        request,
        _("Cancelled %(count)s occurrences of %(title)s.")
        % {"count": len(cancelled), "title": booking.title},
    )
    return redirect(reverse("booking_detail", args=[booking.pk]))
