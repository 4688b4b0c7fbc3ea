"""Personal API tokens in the web UI: list with last use, create (secret shown once), revoke."""

from __future__ import annotations

import datetime as dt

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from booking.errors import ParkError
from booking.tenancy.selectors import tenants_for_user
from booking.tokens.forms import TokenForm
from booking.tokens.models import ApiToken
from booking.tokens.services import api_token_create, api_token_revoke, api_tokens_for_user


@login_required
def token_list(request: HttpRequest) -> HttpResponse:
    tenants = tenants_for_user(user=request.user)
    secret = None
    if request.method == "POST":
        form = TokenForm(request.POST, tenants=tenants)
        if form.is_valid():
            data = form.cleaned_data
            try:
                _token, secret = api_token_create(
                    user=request.user,
                    tenant=form.tenants[data["tenant"]],
                    name=data["name"],
                    scopes=data["scopes"],
                    expires_at=timezone.now() + dt.timedelta(days=data["expires_in_days"]),
                )
            except ParkError as error:
                form.add_error(error.field if error.field in form.fields else None, error.message)
            else:
                form = TokenForm(tenants=tenants)
    else:
        form = TokenForm(tenants=tenants)
    context = {
        "form": form,
        "tokens": api_tokens_for_user(user=request.user),
        "secret": secret,
        "now": timezone.now(),
    }
    # The secret appears in this one response only; never cache it.
    response = render(request, "booking/tokens.html", context)
    response["Cache-Control"] = "no-store"
    return response


@login_required
@require_POST
def token_revoke(request: HttpRequest, token_id: int) -> HttpResponse:
    token = ApiToken.objects.filter(pk=token_id, user=request.user).first()
    if token is None:
        raise Http404
    api_token_revoke(token=token, actor=request.user)
    messages.success(request, _("Token “%(name)s” revoked.") % {"name": token.name})
    return redirect("api_tokens")
