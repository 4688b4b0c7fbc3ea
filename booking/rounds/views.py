"""Operator pages for allocation rounds (park staff only). Views parse input and call services."""

from __future__ import annotations

from functools import wraps

from django.contrib import messages
from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST

from booking.bookings.models import Booking
from booking.errors import ParkError
from booking.rounds.forms import RoundForm, WhatIfForm
from booking.rounds.lifecycle import round_close as round_close_service
from booking.rounds.lifecycle import solve_stale_after
from booking.rounds.models import AllocationRound, WhatIfPreview
from booking.rounds.outcomes import Outcome, stored_outcomes, stored_problem
from booking.rounds.preview import preview_is_dead, what_if_preview_refresh
from booking.rounds.reasons import fairness_contract, fairness_measures, reason_text
from booking.rounds.services import (
    round_create,
    round_run_planner,
    what_if_preview_again,
    what_if_preview_start,
)
from booking.rounds.services import round_publish as round_publish_service
from booking.tenancy.models import Tenant
from resources.models import ResourceKind

Status = AllocationRound.Status


def staff_required(view):
    """Anonymous visitors are sent to sign in; signed-in non-staff get 403."""

    @wraps(view)
    def inner(request: HttpRequest, *args, **kwargs):
        if not request.user.is_authenticated:
            return redirect_to_login(request.get_full_path())
        if not request.user.is_staff:
            raise PermissionDenied(_("Only park staff can manage allocation rounds."))
        return view(request, *args, **kwargs)

    return inner


@staff_required
@require_GET
def round_list(request: HttpRequest) -> HttpResponse:
    rounds = AllocationRound.objects.order_by("-period_start", "-pk")
    return render(request, "rounds/list.html", {"rounds": rounds})


@staff_required
def round_new(request: HttpRequest) -> HttpResponse:
    form = RoundForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            rnd = round_create(**form.cleaned_data, actor=request.user)
        except ParkError as error:
            form.add_error(error.field if error.field in form.fields else None, error.message)
        else:
            messages.success(
                request, _("Round “%(name)s” is open for requests.") % {"name": rnd.name}
            )
            return redirect("rounds:detail", pk=rnd.pk)
    return render(request, "rounds/new.html", {"form": form})


def _review(rnd: AllocationRound) -> dict:
    """What the review section shows: figures, each tenant's share, every request's outcome."""
    figures = rnd.figures or {}
    tenants = figures.get("tenants", [])
    top = max([1.0] + [float(t["share"]) for t in tenants])
    labels = dict(ResourceKind.choices)
    bars = [
        {
            **t,
            "class_label": labels.get(t["class"], t["class"]),
            "percent": round(float(t["share"]) * 100),
            "width": round(float(t["share"]) / top * 100, 1),
        }
        for t in tenants
    ]
    outcomes = stored_outcomes(rnd)
    bookings = (
        Booking.objects.filter(round=rnd)
        .select_related("tenant", "user", "resource", "pool", "recipe")
        .order_by("tenant__name", "created_at", "pk")
    )
    rows = []
    for b in bookings:
        outcome = outcomes.get(b.pk)
        rows.append(
            {
                "booking": b,
                "outcome": outcome,
                "reason": reason_text(outcome.code, outcome.params) if outcome else "",
            }
        )
    return {
        "figures": figures,
        "bars": bars,
        "entitlement_at": round(1.0 / top * 100, 1),
        "floor_at": round(float(figures.get("floor", 0)) / top * 100, 1),
        "rows": rows,
    }


def _what_if_form(rnd: AllocationRound, data=None) -> WhatIfForm | None:
    stored = stored_problem(rnd)
    if stored is None:
        return None
    problem, _plan = stored
    slugs = [t.id for t in problem.tenants]
    tenants = list(Tenant.objects.filter(slug__in=slugs).order_by("name"))
    classes = sorted(
        {r.resource_class for r in problem.resources}
        & {problem.request_class(q) for q in problem.requests}
    )
    return WhatIfForm(data, tenants=tenants, classes=classes)


@staff_required
@require_GET
def round_detail(request: HttpRequest, pk: int) -> HttpResponse:
    rnd = get_object_or_404(AllocationRound, pk=pk)
    return render(request, "rounds/detail.html", _detail_context(rnd))


def _detail_context(rnd: AllocationRound) -> dict:
    reviewed = rnd.status in (Status.SOLVED, Status.PUBLISHED)
    context = {
        "round": rnd,
        "request_count": rnd.requests.count(),
        "contract": fairness_contract(),
        "measures": fairness_measures(rnd.figures if reviewed else None),
        "what_if_form": _what_if_form(rnd) if reviewed else None,
        **_progress(rnd),
    }
    if reviewed:
        context.update(_review(rnd))
    return context


def _progress(rnd: AllocationRound) -> dict:
    elapsed = 0.0
    if rnd.status == Status.SOLVING and rnd.solve_started_at:
        elapsed = max(0.0, (timezone.now() - rnd.solve_started_at).total_seconds())
    limit = float(rnd.time_limit_seconds or 1)
    stale = rnd.status == Status.SOLVING and elapsed > solve_stale_after(rnd).total_seconds()
    return {
        "elapsed": round(elapsed, 1),
        "progress_percent": min(99, round(elapsed / limit * 100)),
        "stale": stale,
    }


@staff_required
@require_GET
def round_progress(request: HttpRequest, pk: int) -> HttpResponse:
    """Polled by htmx while the planner runs; asks for a full reload once it has finished."""
    rnd = get_object_or_404(AllocationRound, pk=pk)
    response = render(request, "rounds/_progress.html", {"round": rnd, **_progress(rnd)})
    if rnd.status != Status.SOLVING and request.htmx:
        response["HX-Refresh"] = "true"
    return response


def _act(request: HttpRequest, pk: int, action, done: str) -> HttpResponse:
    rnd = get_object_or_404(AllocationRound, pk=pk)
    try:
        action(allocation_round=rnd, actor=request.user)
    except ParkError as error:
        messages.error(request, error.message)
    else:
        messages.success(request, done)
    return redirect("rounds:detail", pk=pk)


@staff_required
@require_POST
def round_close(request: HttpRequest, pk: int) -> HttpResponse:
    return _act(request, pk, round_close_service, _("The round is closed for requests."))


@staff_required
@require_POST
def round_run(request: HttpRequest, pk: int) -> HttpResponse:
    return _act(request, pk, round_run_planner, _("The planner is running."))


@staff_required
@require_POST
def round_publish(request: HttpRequest, pk: int) -> HttpResponse:
    return _act(
        request,
        pk,
        round_publish_service,
        _("The round is published; the people affected are being told."),
    )


def _preview_context(rnd: AllocationRound, preview_obj: WhatIfPreview | None) -> dict:
    """What the what-if box shows for a stored preview: its state, and once planned the
    requests granted or refused the other way (the rest only counted)."""
    if preview_obj is None:
        return {"round": rnd, "preview": None}
    preview_obj = what_if_preview_refresh(preview_obj)
    Preview = WhatIfPreview.Status
    running = preview_obj.status in (Preview.QUEUED, Preview.RUNNING)
    context = {
        "round": rnd,
        "preview": preview_obj,
        "running": running,
        "dead": preview_is_dead(preview_obj),
        "ran": preview_obj.status == Preview.DONE,
        "elapsed": 0.0,
    }
    if preview_obj.status == Preview.RUNNING and preview_obj.started_at:
        context["elapsed"] = round((timezone.now() - preview_obj.started_at).total_seconds(), 1)
    if context["ran"]:
        result = preview_obj.result or []
        moving = [c for c in result if c["kind"] in ("gained", "lost")]
        bookings = Booking.objects.select_related("tenant").in_bulk([c["booking"] for c in moving])
        rows = []
        for c in moving:
            booking = bookings.get(c["booking"])
            if booking is None:  # deleted since the preview
                continue
            before = Outcome.from_json(booking.pk, c["before"])
            after = Outcome.from_json(booking.pk, c["after"])
            rows.append(
                {
                    "booking": booking,
                    "before": reason_text(before.code, before.params),
                    "after": reason_text(after.code, after.params),
                    "gains": c["kind"] == "gained",
                    "loses": c["kind"] == "lost",
                }
            )
        context["changes"] = rows
        # Requests granted either way, only at another time or place, are counted, not listed.
        context["other_changes"] = len(result) - len(moving)
    return context


def _preview_response(request, rnd, context, *, status=200) -> HttpResponse:
    if request.htmx:
        return render(request, "rounds/_what_if.html", context, status=status)
    # Without JavaScript the whole page comes back with the preview in place.
    return render(request, "rounds/detail.html", {**_detail_context(rnd), **context}, status=status)


@staff_required
@require_POST
def round_what_if(request: HttpRequest, pk: int) -> HttpResponse:
    """Store the what-if asked for and queue its planner; the answer polls the preview."""
    rnd = get_object_or_404(AllocationRound, pk=pk)
    form = _what_if_form(rnd, request.POST)
    preview_obj, error = None, None
    if form is None:
        error = _("Run the planner before a what-if.")
    elif form.is_valid():
        weights, quotas = form.changes()
        try:
            preview_obj = what_if_preview_start(
                allocation_round=rnd, weights=weights, quotas=quotas, actor=request.user
            )
        except ParkError as exc:
            error = exc.message
    context = {**_preview_context(rnd, preview_obj), "what_if_form": form, "error": error}
    status = 200 if preview_obj is not None else 400
    return _preview_response(request, rnd, context, status=status)


def _round_preview(pk: int, preview_pk: int) -> tuple[AllocationRound, WhatIfPreview]:
    preview_obj = get_object_or_404(
        WhatIfPreview.objects.select_related("allocation_round"),
        pk=preview_pk,
        allocation_round_id=pk,
    )
    return preview_obj.allocation_round, preview_obj


@staff_required
@require_GET
def round_what_if_preview(request: HttpRequest, pk: int, preview_pk: int) -> HttpResponse:
    """Polled by htmx while the preview is planned; then shows the changed outcomes."""
    rnd, preview_obj = _round_preview(pk, preview_pk)
    return _preview_response(request, rnd, _preview_context(rnd, preview_obj))


@staff_required
@require_POST
def round_what_if_again(request: HttpRequest, pk: int, preview_pk: int) -> HttpResponse:
    """Run a stale, failed or abandoned preview again."""
    rnd, preview_obj = _round_preview(pk, preview_pk)
    error = None
    try:
        preview_obj = what_if_preview_again(preview_obj=preview_obj, actor=request.user)
    except ParkError as exc:
        error = exc.message
    context = {**_preview_context(rnd, preview_obj), "error": error}
    return _preview_response(request, rnd, context, status=200 if error is None else 409)
