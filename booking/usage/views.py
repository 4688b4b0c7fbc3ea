"""Usage pages: the check-in panel on a booking (htmx), the instrument kiosk and the kiosk PIN.

Views parse input and call the usage services; follow-up work starts after commit."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.db import transaction
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST

from booking.errors import NotFound, ParkError
from booking.models import Booking
from booking.selectors import booking_get
from booking.usage import services, tasks
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
    services.remember_language(user=request.user, language=request.LANGUAGE_CODE)
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
            services.kiosk_pin_verify(user=booking.user, pin=request.POST.get("pin", ""))
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
        services.remember_language(user=request.user, language=request.LANGUAGE_CODE)
        try:
            services.kiosk_pin_set(user=request.user, pin=request.POST.get("pin", ""))
        except ParkError as exc:
            error = exc.message
        else:
            messages.success(request, _("Your kiosk PIN is set."))
            return redirect("usage:kiosk_pin")
    has_pin = hasattr(request.user, "kiosk_pin")
    return render(request, "usage/kiosk_pin.html", {"error": error, "has_pin": has_pin})
