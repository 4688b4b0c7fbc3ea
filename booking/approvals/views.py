"""The approvers' queue: requests waiting for their decision; approve, or deny with a reason.

Only users who approve something see the queue (anyone else: 404); each approver sees only
the requests of the resources they approve, or of the tenants they manage where the tenant's
managers approve. Views parse input and call ``approvals.services``.
"""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST
from django_htmx.http import reswap, retarget

from booking.approvals.selectors import approvals_decided, approvals_pending, approves_anything
from booking.approvals.services import approval_approve, approval_deny
from booking.bookings.reasons import reason_for
from booking.errors import NotFound, ParkError
from booking.ids import plain_pk
from booking.ui import ui_error


def _require_approver(request: HttpRequest) -> None:
    if not approves_anything(user=request.user):
        raise Http404


@login_required
@require_GET
def approval_queue(request: HttpRequest) -> HttpResponse:
    _require_approver(request)
    return _queue(request)


def _queue(request: HttpRequest, *, error: dict | None = None, error_for=None, status=200):
    decided = approvals_decided(user=request.user)
    for b in decided:
        b.reason = reason_for(b)
    pending = list(approvals_pending(user=request.user))
    for b in pending:
        if error is not None and str(b.pk) == str(error_for):
            b.error = error
            b.denial = request.POST.get("reason", "")
    context = {"pending": pending, "decided": decided, "error": error}
    return render(request, "approvals/queue.html", context, status=status)


def _decide(request: HttpRequest, pk: str, *, approve: bool) -> HttpResponse:
    _require_approver(request)
    try:
        booking_id = plain_pk(pk, what="booking")
    except NotFound:
        raise Http404 from None
    try:
        if approve:
            booking = approval_approve(
                user=request.user, booking_id=booking_id, note=request.POST.get("note", "")
            )
        else:
            booking = approval_deny(
                user=request.user, booking_id=booking_id, reason=request.POST.get("reason")
            )
    except NotFound:
        raise Http404 from None
    except ParkError as exc:
        error = ui_error(exc)
        if request.htmx:
            # htmx swaps only successful answers: the error goes into the request's row.
            response = render(request, "approvals/_decision.html", {"error": error})
            return reswap(retarget(response, f"#approval-{booking_id}-error"), "innerHTML")
        return _queue(request, error=error, error_for=booking_id, status=exc.status)
    booking.reason = reason_for(booking)
    if request.htmx:
        return render(request, "approvals/_decision.html", {"booking": booking})
    if approve:
        messages.success(request, _("Approved: %(title)s.") % {"title": booking.title})
    else:
        messages.success(request, _("Denied: %(title)s.") % {"title": booking.title})
    return redirect(reverse("approval_queue"))


@login_required
@require_POST
def approval_approve_view(request: HttpRequest, pk: str) -> HttpResponse:
    return _decide(request, pk, approve=True)


@login_required
@require_POST
def approval_deny_view(request: HttpRequest, pk: str) -> HttpResponse:
    return _decide(request, pk, approve=False)
