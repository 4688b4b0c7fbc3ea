"""Error pages outside the API's own handlers: under /api/ every error is in the API's JSON
shape (``{code, message, field, details}``), never an HTML page; a database that does not
answer is a 503 with Retry-After anywhere (not a 500)."""

from __future__ import annotations

import json
import sys

from django.db import DatabaseError, InterfaceError, OperationalError
from django.http import HttpRequest, HttpResponse
from django.utils.translation import gettext as _
from django.views import defaults

RETRY_AFTER_DB = 5


def database_down(exc: BaseException | None) -> bool:
    """The database did not answer (connection refused, server gone), as opposed to a bug."""
    return isinstance(exc, OperationalError | InterfaceError) or (
        isinstance(exc, DatabaseError) and "connection" in str(exc).lower()
    )


def is_api(request: HttpRequest) -> bool:
    return request.path.startswith("/api/")


def json_error(status: int, code: str, message: str, **headers: str) -> HttpResponse:
    body = {"code": code, "message": str(message), "field": None, "details": None, "params": {}}
    response = HttpResponse(json.dumps(body), status=status, content_type="application/json")
    for name, value in headers.items():
        response[name.replace("_", "-")] = value
    return response


def database_unavailable() -> HttpResponse:
    return json_error(
        503,
        "database_unavailable",
        _("The service's database is not answering; retry in a few seconds."),
        Retry_After=str(RETRY_AFTER_DB),
    )


def handler404(request: HttpRequest, exception: Exception) -> HttpResponse:
    if is_api(request):
        return json_error(404, "not_found", _("No such address in the API."))
    return defaults.page_not_found(request, exception)


def handler500(request: HttpRequest) -> HttpResponse:
    exc = sys.exc_info()[1]
    if database_down(exc):
        if is_api(request):
            return database_unavailable()
        response = HttpResponse(
            _("The service is briefly unavailable; retry in a few seconds."),
            status=503,
            content_type="text/plain; charset=utf-8",
        )
        response["Retry-After"] = str(RETRY_AFTER_DB)
        return response
    if is_api(request):
        return json_error(500, "server_error", _("Internal error; it has been logged."))
    return defaults.server_error(request)


def handler400(request: HttpRequest, exception: Exception) -> HttpResponse:
    if is_api(request):
        return json_error(400, "bad_request", _("The request is not valid."))
    return defaults.bad_request(request, exception)


def handler403(request: HttpRequest, exception: Exception) -> HttpResponse:
    if is_api(request):
        return json_error(403, "forbidden", _("Not allowed."))
    return defaults.permission_denied(request, exception)
