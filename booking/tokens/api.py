"""Who am I: the caller as the API sees it (tokens themselves are made in the web UI)."""

from __future__ import annotations

from django.http import HttpRequest
from ninja import Router

from booking.api_common import responses
from booking.tokens.auth import READ
from booking.tokens.schemas import WhoAmIOut

router = Router(auth=READ)


@router.get("/me", response=responses({200: WhoAmIOut}, without=(409, 422)))
def me(request: HttpRequest):
    """The acting user, tenant and scopes of this call."""
    caller = request.auth
    return {
        "username": caller.user.get_username(),
        "tenant": caller.tenant.slug,
        "tenant_name": caller.tenant.name,
        "scopes": sorted(caller.scopes),
        "auth": "token" if caller.token else "session",
        "token": caller.token,
    }
