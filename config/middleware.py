"""Edge middleware: request bodies over the limit answer 413 before anything reads them."""

from __future__ import annotations

from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.template.loader import render_to_string
from django.utils import translation
from django.utils.translation import gettext as _


def too_large_response(request: HttpRequest) -> HttpResponse:
    """413 in the API's error shape under /api/, a page in the reader's language elsewhere."""
    # This runs before LocaleMiddleware: pick the reader's language here.
    with translation.override(translation.get_language_from_request(request)):
        return _too_large_response(request)


def _too_large_response(request: HttpRequest) -> HttpResponse:
    limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
    message = _("The request body is larger than this server accepts (%(limit)s bytes).") % {
        "limit": limit
    }
    if request.path.startswith("/api/"):
        return JsonResponse(
            {
                "code": "payload_too_large",
                "message": message,
                "field": None,
                "details": {"limit_bytes": limit},
                "params": {"limit": limit},
            },
            status=413,
        )
    html = render_to_string("413.html", {"message": message}, request=request)
    return HttpResponse(html, status=413)


class BodySizeLimitMiddleware:
    """Refuses a declared Content-Length above ``DATA_UPLOAD_MAX_MEMORY_SIZE`` with 413.

    Django raises RequestDataTooBig only when a view (or the CSRF check) reads the body, which
    the API turned into a 500 and forms into a 400; checking the header first answers 413
    without reading the body at all.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
        if limit is not None:
            try:
                length = int(request.META.get("CONTENT_LENGTH") or 0)
            except ValueError:
                length = 0
            if length > limit:
                return too_large_response(request)
        return self.get_response(request)
