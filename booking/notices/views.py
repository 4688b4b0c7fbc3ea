"""The reminder-preferences page: what to be reminded of, how long before, one e-mail each or a
daily digest; and the user's latest notices."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods

from booking.errors import ParkError
from booking.notices.forms import NoticePreferenceForm
from booking.notices.selectors import notice_preference_for, notices_recent
from booking.notices.services import notice_preference_set
from booking.notices.texts import notice_text
from booking.ui import form_errors

FIELDS = (
    "booking_start",
    "lead_minutes",
    "training_expiry",
    "quota",
    "round_cutoff",
    "approval_due",
    "delivery",
    "digest_hour",
)


@login_required
@require_http_methods(["GET", "POST"])
def notice_preferences(request: HttpRequest) -> HttpResponse:
    preference = notice_preference_for(user=request.user)
    saved = False
    status = 200
    if request.method == "POST":
        form = NoticePreferenceForm(request.POST)
        if form.is_valid():
            try:
                preference = notice_preference_set(user=request.user, **form.cleaned_data)
            except ParkError as exc:
                form.add_error(exc.field if exc.field in form.fields else None, exc.message)
            else:
                saved = True
        if not saved:
            status = 400
    else:
        form = NoticePreferenceForm(initial={f: getattr(preference, f) for f in FIELDS})
    context = {
        "form": form,
        "errors": form_errors(form) if form.is_bound else [],
        "saved": saved,
    }
    if request.htmx:
        # htmx swaps only 2xx answers; the form with its errors is the answer here.
        return render(request, "notices/_preferences_form.html", context)
    today = timezone.localdate()
    context["recent"] = [
        {"notice": n, "text": notice_text(n, today=today)[1]}
        for n in notices_recent(user=request.user)
    ]
    context["title"] = _("Reminders")
    return render(request, "notices/preferences.html", context, status=status)
