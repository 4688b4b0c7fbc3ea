"""Web pages for tenant members: home, catalogue, resource calendars and booking, my bookings,
the calendar feed. Views parse input and call services/selectors.
"""

from __future__ import annotations

import datetime as dt

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.db import transaction
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST
from django_htmx.http import HttpResponseClientRedirect

from booking.bookings import ical
from booking.bookings.approval import APPROVAL_CODES, approver_names
from booking.bookings.calendar import resource_week
from booking.bookings.changes import CHANGEABLE
from booking.bookings.forms import (
    BookingChangeForm,
    BookingForm,
    CatalogueFilterForm,
    RequestChangeForm,
    RoundRequestForm,
    TenantBookingFilters,
    parse_week,
)
from booking.bookings.hooks import project_desk, round_desk
from booking.bookings.models import BookingStatus
from booking.bookings.reasons import reason_for
from booking.bookings.rules import booking_cancellable, booking_check
from booking.bookings.selectors import (
    booking_get,
    bookings_for_tenant,
    bookings_for_user,
    catalogue,
    gpu_models,
    resource_get,
)
from booking.bookings.series import booking_series_create, series_occurrences
from booking.bookings.services import booking_cancel, booking_create_instant
from booking.errors import BookingRefused, NotFound, ParkError
from booking.formats import when_text
from booking.tenancy.models import Period
from booking.tenancy.selectors import managed_tenants, quota_uses, tenants_for_user
from booking.tokens.models import CalendarFeedToken
from booking.tokens.services import calendar_feed_regenerate, calendar_feed_user
from booking.ui import form_errors, ui_error
from resources.models import UNIT_OF_KIND, BookingMode, ResourceKind
from resources.selectors import training_contact, trainings_held


@login_required
def home(request: HttpRequest) -> HttpResponse:
    tenants = tenants_for_user(user=request.user)
    overview = []
    for tenant in tenants:
        bars = [
            {
                "label": ResourceKind(use.resource_class).label,
                "period": Period(use.period).label,
                "unit": UNIT_OF_KIND[ResourceKind(use.resource_class)],
                "used": use.used_hours,
                "quota": use.quota_hours,
                "percent": use.percent,
            }
            for use in quota_uses(tenant=tenant)
        ]
        overview.append((tenant, bars))
    upcoming = list(
        bookings_for_user(user=request.user, statuses=[BookingStatus.CONFIRMED])
        .filter(end__gte=timezone.now())
        .order_by("start")[:5]
    )
    return render(request, "booking/home.html", {"overview": overview, "upcoming": upcoming})


@login_required
@require_GET
def catalogue_view(request: HttpRequest) -> HttpResponse:
    form = CatalogueFilterForm(request.GET or None, gpu_models=gpu_models())
    filters = {}
    if form.is_bound and form.is_valid():
        data = form.cleaned_data
        filters = {
            "kind": data["kind"] or None,
            "location": data["location"],
            "gpu_model": data["gpu_model"] or None,
            "free_from": data["free_from"],
            "free_to": data["free_to"],
            "trained_only": data["trained_only"],
        }
    resources = list(catalogue(user=request.user, **filters))
    context = {
        "form": form,
        "resources": resources,
        "trainings_held": trainings_held(user=request.user, on=timezone.localdate()),
    }
    if request.htmx and request.htmx.target == "results":
        return render(request, "booking/_catalogue_results.html", context)
    return render(request, "booking/catalogue.html", context)


def _open_round():
    return round_desk().open_round()


def _resource_or_404(slug: str):
    try:
        return resource_get(slug=slug)
    except NotFound:
        raise Http404 from None


def _booking_form(request, resource, tenants, data=None):
    cls = RoundRequestForm if resource.booking_mode == BookingMode.ROUND else BookingForm
    return cls(data, resource=resource, tenants=tenants)


@login_required
@require_GET
def resource_view(request: HttpRequest, slug: str) -> HttpResponse:
    resource = _resource_or_404(slug)
    open_round = _open_round() if resource.booking_mode == BookingMode.ROUND else None
    # A round-planned resource opens on the week the open round plans, not on today's.
    default_day = (
        timezone.localtime(open_round.period_start).date() if open_round else timezone.localdate()
    )
    week_start = parse_week(request.GET.get("week"), default_day)
    week = resource_week(user=request.user, resource=resource, week_start=week_start)
    if request.htmx and request.htmx.target == "week":
        return render(request, "booking/_week.html", {"week": week, "resource": resource})
    tenants = tenants_for_user(user=request.user)
    context = {
        "resource": resource,
        "week": week,
        "form": _booking_form(request, resource, tenants),
        "errors": [],
        "open_round": open_round,
        "training_missing": resource.required_training_id is not None
        and resource.required_training_id
        not in trainings_held(user=request.user, on=timezone.localdate()),
        "training_contact": training_contact(),
    }
    return render(request, "booking/resource.html", context)


def _check_instant(request, resource, form) -> list[dict]:
    """Live validation of an instant booking: input errors, then every booking rule."""
    data = form.cleaned_data if form.is_bound and form.is_valid() else None
    if data is None:
        # While typing, a title not yet given is no error worth shouting about.
        return [e for e in form_errors(form) if e["field"] != "title"]
    errors = booking_check(
        user=request.user,
        tenant=data["tenant"],
        resource=resource,
        start=data["start"],
        end=data["end"],
        units=data.get("units") or 1,
        recipe=data.get("recipe"),
    )
    return [ui_error(e) for e in errors]


def _check_round_request(request, resource, form) -> list[dict]:
    """Live validation of a round request by the rules sending uses: the same service in its
    check-only mode (nothing written), so a pilot line's missing recipe shows while typing."""
    if not form.is_valid():
        return [e for e in form_errors(form) if e["field"] != "title"]
    data = form.cleaned_data
    try:
        round_desk().request_create(
            user=request.user,
            tenant=data["tenant"],
            resource=resource,
            earliest_start=data["earliest_start"],
            latest_end=data["latest_end"],
            duration_minutes=form.duration_minutes,
            units=data.get("units") or 1,
            **form.vector(),
            recipe=data.get("recipe"),
            title=data["title"],
            check_only=True,
        )
    except BookingRefused as refused:
        return [ui_error(e) for e in refused.errors]
    except ParkError as error:
        return [ui_error(error)]
    return []


@login_required
@require_POST
def booking_validate(request: HttpRequest, slug: str) -> HttpResponse:
    """The errors partial for the booking form as the member types (htmx)."""
    resource = _resource_or_404(slug)
    tenants = tenants_for_user(user=request.user)
    form = _booking_form(request, resource, tenants, request.POST)
    if resource.booking_mode == BookingMode.ROUND:
        if not request.POST.get("title"):
            data = request.POST.copy()
            data["title"] = "-"
            form = _booking_form(request, resource, tenants, data)
        errors = _check_round_request(request, resource, form)
        checked = not errors and form.is_valid()
    else:
        # Validate without the title so rules show before the member has named the booking.
        if not request.POST.get("title"):
            data = request.POST.copy()
            data["title"] = "-"
            form = _booking_form(request, resource, tenants, data)
        errors = _check_instant(request, resource, form)
        checked = form.is_valid()
    return render(
        request,
        "booking/_errors.html",
        {"errors": errors, "checked": checked, "resource": resource},
    )


def _submit(request, resource, form):
    """Create the booking, the recurring series or the round request of a valid form and
    charge it (every occurrence of a series) to the project chosen, in one transaction."""
    data = form.cleaned_data
    with transaction.atomic():
        booked = None
        if resource.booking_mode == BookingMode.ROUND:
            booking = round_desk().request_create(
                user=request.user,
                tenant=data["tenant"],
                resource=resource,
                earliest_start=data["earliest_start"],
                latest_end=data["latest_end"],
                duration_minutes=form.duration_minutes,
                units=data.get("units") or 1,
                **form.vector(),
                recipe=data.get("recipe"),
                title=data["title"],
            )
            messages.success(
                request,
                _("Your request joined the round “%(round)s”; it closes %(cutoff)s.")
                % {
                    "round": booking.round.name if booking.round else "",
                    "cutoff": when_text(booking.round.cutoff) if booking.round else "",
                },
            )
        elif form.recurrence() is not None:
            result = booking_series_create(
                user=request.user,
                tenant=data["tenant"],
                resource=resource,
                start=data["start"],
                end=data["end"],
                units=data.get("units") or 1,
                recipe=data.get("recipe"),
                title=data["title"],
                recurrence=form.recurrence(),
                skip_conflicts=data.get("skip_conflicts", False),
            )
            booked = result.booked
            booking = booked[0]
            messages.success(
                request,
                _("Booked: %(count)s occurrences of %(title)s; %(skipped)s skipped.")
                % {
                    "count": len(result.booked),
                    "title": booking.title,
                    "skipped": len(result.skipped),
                },
            )
        else:
            booking = booking_create_instant(
                user=request.user,
                tenant=data["tenant"],
                resource=resource,
                start=data["start"],
                end=data["end"],
                units=data.get("units") or 1,
                recipe=data.get("recipe"),
                title=data["title"],
            )
            if booking.status == BookingStatus.PENDING_APPROVAL:
                text = _("Requested: %(title)s holds its slot and waits for approval.")
            else:
                text = _("Booked: %(title)s is confirmed.")
            messages.success(request, text % {"title": booking.title})
        for occurrence in booked or [booking]:
            project_desk().attach(project=data.get("project"), booking=occurrence)
    return booking


@login_required
@require_POST
def booking_submit(request: HttpRequest, slug: str) -> HttpResponse:
    """Book an instant slot, or send a round request for a round-planned resource."""
    resource = _resource_or_404(slug)
    tenants = tenants_for_user(user=request.user)
    form = _booking_form(request, resource, tenants, request.POST)
    errors: list[dict] = []
    status = 400
    if not form.is_valid():
        errors = form_errors(form)
    else:
        try:
            booking = _submit(request, resource, form)
        except ParkError as exc:
            errors = [ui_error(e) for e in getattr(exc, "errors", [exc])]
            status = exc.status
        else:
            url = reverse("booking_detail", args=[booking.pk])
            if request.htmx:
                return HttpResponseClientRedirect(url)
            return redirect(url)
    context = {
        "resource": resource,
        "form": form,
        "errors": errors,
        "open_round": _open_round() if resource.booking_mode == BookingMode.ROUND else None,
    }
    if request.htmx:
        # htmx swaps only 2xx answers; the form with its errors is the answer here.
        return render(request, "booking/_booking_form.html", context)
    context["week"] = resource_week(
        user=request.user, resource=resource, week_start=timezone.localdate()
    )
    return render(request, "booking/resource.html", context, status=status)


@login_required
@require_GET
def my_bookings(request: HttpRequest) -> HttpResponse:
    now = timezone.now()
    bookings = list(bookings_for_user(user=request.user)[:300])
    for b in bookings:
        b.cancellable = booking_cancellable(booking=b, now=now)
        b.reason = reason_for(b)
    return render(
        request,
        "booking/my_bookings.html",
        {"bookings": bookings, "managed": managed_tenants(user=request.user)},
    )


@login_required
@require_GET
def tenant_bookings(request: HttpRequest, slug: str) -> HttpResponse:
    tenant = next((t for t in managed_tenants(user=request.user) if t.slug == slug), None)
    if tenant is None:
        raise Http404
    now = timezone.now()
    filters = TenantBookingFilters(request.GET, tenant=tenant)
    qs = bookings_for_tenant(user=request.user, tenant=tenant)
    if filters.is_valid():
        qs = filters.apply(qs, now=now)
    bookings = list(qs[:500])
    for b in bookings:
        b.cancellable = booking_cancellable(booking=b, now=now)
        b.reason = reason_for(b)
    return render(
        request,
        "booking/tenant_bookings.html",
        {"tenant": tenant, "bookings": bookings, "filters": filters},
    )


@login_required
@require_GET
def booking_detail(request: HttpRequest, pk: str) -> HttpResponse:
    try:
        booking = booking_get(user=request.user, pk=pk)
    except NotFound:
        raise Http404 from None
    booking.cancellable = booking_cancellable(booking=booking, now=timezone.now())
    booking.reason = reason_for(booking)
    events = booking.events.select_related("actor").order_by("at", "id")
    context = {
        "booking": booking,
        "events": events,
        "approval_reason": booking.reason_code in APPROVAL_CODES,
    }
    if booking.status == BookingStatus.PENDING_APPROVAL:
        context["waiting_for"] = approver_names(booking=booking)
    if booking.status in CHANGEABLE and booking.start and booking.end > timezone.now():
        context["change_form"] = BookingChangeForm(booking=booking)
    elif (
        booking.status == BookingStatus.REQUESTED
        and booking.round_id
        and booking.round.cutoff > timezone.now()
    ):
        context["change_form"] = RequestChangeForm(booking=booking)
        context["change_window"] = True
    if booking.series_id:
        context["series"] = booking.series
        context["occurrences"] = list(series_occurrences(booking.series))
        context["skipped"] = [
            {**s, "start": dt.datetime.fromisoformat(s["start"])} for s in booking.series.skipped
        ]
    return render(request, "booking/booking_detail.html", context)


@login_required
@require_POST
def booking_cancel_view(request: HttpRequest, pk: str) -> HttpResponse:
    try:
        booking = booking_get(user=request.user, pk=pk)
    except NotFound:
        raise Http404 from None
    try:
        booking = booking_cancel(user=request.user, booking=booking)
    except NotFound:
        raise Http404 from None
    except ParkError as exc:
        error = ui_error(exc)
        if request.htmx:
            return render(request, "booking/_row_error.html", {"error": error}, status=200)
        messages.error(request, error["message"])
    else:
        if request.htmx:
            booking.cancellable = False
            booking.reason = reason_for(booking)
            return render(request, "booking/_booking_row.html", {"b": booking})
        messages.success(request, _("Cancelled: %(title)s.") % {"title": booking.title})
    return redirect(request.POST.get("next") or reverse("my_bookings"))


@login_required
def calendar_feed_settings(request: HttpRequest) -> HttpResponse:
    """Shows whether a feed link exists; POST issues a new one (the old one stops working)."""
    if request.method == "POST":
        token = calendar_feed_regenerate(user=request.user)
        # Redirect after the POST (a reload must not replace the new address); the address is
        # shown on the next page view only.
        request.session["calendar_feed_new_url"] = request.build_absolute_uri(
            reverse("calendar_feed", args=[token])
        )
        return redirect("calendar_feed_settings")
    feed_url = request.session.pop("calendar_feed_new_url", None)
    has_feed = feed_url is not None or CalendarFeedToken.objects.filter(user=request.user).exists()
    response = render(
        request, "booking/calendar_feed.html", {"feed_url": feed_url, "has_feed": has_feed}
    )
    response["Cache-Control"] = "no-store"  # the new address is shown once
    return response


@require_GET
def calendar_feed(request: HttpRequest, token: str) -> HttpResponse:
    """The member's bookings as iCalendar; the secret in the URL is the only credential."""
    try:
        user = calendar_feed_user(token=token)
    except NotFound:
        raise Http404 from None
    since = timezone.now() - dt.timedelta(days=90)
    bookings = bookings_for_user(
        user=user,
        statuses=[
            BookingStatus.CONFIRMED,
            BookingStatus.IN_USE,
            BookingStatus.COMPLETED,
            BookingStatus.CANCELLED,
            BookingStatus.PENDING_APPROVAL,
        ],
    ).filter(start__isnull=False, end__gte=since)
    ical_status = {
        BookingStatus.CANCELLED: "CANCELLED",
        BookingStatus.PENDING_APPROVAL: "TENTATIVE",
    }
    host = request.get_host().split(":")[0] or "park.local"
    events = []
    for b in bookings:
        place = b.resource.name if b.resource else ""
        events.append(
            {
                "uid": f"booking-{b.pk}@{host}",
                "stamp": b.updated_at,
                "start": b.start,
                "end": b.end,
                "summary": f"{b.title} · {place}" if place else b.title,
                "location": str(b.resource.location) if b.resource else "",
                "description": f"{b.tenant.name}\n{b.get_status_display()}",
                "status": ical_status.get(b.status, "CONFIRMED"),
                "sequence": int(b.updated_at.timestamp()) % 2_000_000_000,
            }
        )
    body = ical.calendar(
        name=_("Park bookings of %(user)s") % {"user": user.username}, events=events
    )
    response = HttpResponse(body, content_type="text/calendar; charset=utf-8")
    response["Content-Disposition"] = 'inline; filename="park-bookings.ics"'
    response["Cache-Control"] = "private, max-age=300"
    return response
