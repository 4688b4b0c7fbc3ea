"""The one NinjaAPI of the park: routers per area, and every failure mapped to one error shape.

Every error answers ``{"code", "message", "field", "details"}``; the status comes from the
ParkError (business rules), from request validation (422), from auth (401/403), from a missing
object (404) or from the rate limit (429 with Retry-After).
"""

from __future__ import annotations

import logging
import math

from django.core.exceptions import ImproperlyConfigured, ObjectDoesNotExist
from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import Http404, HttpRequest, HttpResponse
from django.utils.translation import gettext as _
from ninja import NinjaAPI
from ninja.errors import AuthenticationError, AuthorizationError, HttpError, Throttled
from ninja.errors import ValidationError as NinjaValidationError

from booking.api_common import park_error_body
from booking.approvals import api as approvals_api
from booking.billing import api as billing_api
from booking.bookings import api as bookings_api
from booking.compute import api as compute_api
from booking.errors import ParkError
from booking.field_labels import labelled
from booking.rounds import api as rounds_api
from booking.tenancy import api as tenancy_api
from booking.tokens import api as tokens_api
from booking.tokens.auth import READ, CallerRateThrottle
from booking.usage import api as usage_api
from config.http_errors import RETRY_AFTER_DB, database_down

logger = logging.getLogger(__name__)


class ParkAPI(NinjaAPI):
    def get_openapi_operation_id(self, operation) -> str:
        # Short, stable ids for generated clients: the view's name (unique across routers).
        return operation.view_func.__name__.removesuffix("_view")


api = ParkAPI(
    title="Park booking API",
    version="1",
    urls_namespace="api",
    description=(
        "The science park's researcher API: catalogue, free slots, bookings and round "
        "requests, round outcomes, quotas and compute jobs.\n\n"
        "Authenticate with a personal token from the web UI (`/account/tokens/`): "
        "`Authorization: Bearer park_…`. The token's tenant is the acting tenant. The web UI "
        "itself may call with its session (CSRF header required on writes; name the tenant "
        "with `?tenant=<slug>` if you belong to several).\n\n"
        "Every error answers `{code, message, field, details}`. Creates accept an "
        "`Idempotency-Key` header: a retry with the same key returns the first answer."
    ),
    throttle=[CallerRateThrottle()],
)


def error_response(
    request: HttpRequest,
    status: int,
    code: str,
    message: str,
    *,
    field: str | None = None,
    details=None,
) -> HttpResponse:
    body = {
        "code": code,
        "message": str(message),
        "field": field or None,
        "details": details,
        "params": {},
    }
    return api.create_response(request, body, status=status)


@api.exception_handler(ParkError)
def on_park_error(request: HttpRequest, exc: ParkError) -> HttpResponse:
    return api.create_response(request, park_error_body(exc), status=exc.status)


# View arguments that hold a whole schema (body or query); clients only know the fields.
SCHEMA_ARGUMENTS = {"payload", "filters", "window", "page"}
SOURCES = {"body", "query", "path", "header", "cookie", "form", "file"}


def _field_of(loc: tuple) -> str:
    # ninja prefixes the source ("body", "query", …) and the argument name; list positions
    # (status.0) say less than the field name itself.
    parts = [p for p in loc if not isinstance(p, int)]
    if parts and parts[0] in SOURCES:
        parts.pop(0)
    if len(parts) > 1 and parts[0] in SCHEMA_ARGUMENTS:
        parts.pop(0)
    return ".".join(str(p) for p in parts)


@api.exception_handler(NinjaValidationError)
def on_validation_error(request: HttpRequest, exc: NinjaValidationError) -> HttpResponse:
    details = [
        {
            "field": _field_of(tuple(err.get("loc", ()))),
            "message": err.get("msg", ""),
            "type": err.get("type", ""),
        }
        for err in exc.errors
    ]
    first = details[0] if details else {"field": "", "message": _("invalid input")}
    message = labelled(first["field"], first["message"])
    if len(details) > 1:
        message += " " + _("(and %(n)s more)") % {"n": len(details) - 1}
    return error_response(
        request, 422, "validation_error", message, field=first["field"], details=details
    )


@api.exception_handler(DjangoValidationError)
def on_model_validation_error(request: HttpRequest, exc: DjangoValidationError) -> HttpResponse:
    # A service's full_clean() refused the input.
    if hasattr(exc, "error_dict"):
        details = {k: [str(m) for m in v] for k, v in exc.message_dict.items()}
        field, messages = next(iter(details.items()))
        message = labelled(field, messages[0])
    else:
        details, field, message = exc.messages, None, "; ".join(exc.messages)
    if field == "__all__":
        field = None
    return error_response(request, 422, "invalid", message, field=field, details=details)


@api.exception_handler(ImproperlyConfigured)
def on_not_configured(request: HttpRequest, exc: ImproperlyConfigured) -> HttpResponse:
    # e.g. no Slurm cluster configured on this server: the service is unavailable, not broken.
    logger.warning("API %s %s: %s", request.method, request.path, exc)
    return error_response(
        request, 503, "unavailable", _("This service is not available on this server.")
    )


@api.exception_handler(Http404)
def on_not_found(request: HttpRequest, exc: Exception) -> HttpResponse:
    return error_response(request, 404, "not_found", _("Not found."))


api.add_exception_handler(ObjectDoesNotExist, on_not_found)


@api.exception_handler(HttpError)
def on_http_error(request: HttpRequest, exc: HttpError) -> HttpResponse:
    if isinstance(exc, Throttled):
        wait = math.ceil(exc.wait or 60)
        response = error_response(
            request,
            429,
            "rate_limited",
            _("Too many requests: retry after %(s)s seconds.") % {"s": wait},
            details={"retry_after": wait},
        )
        response["Retry-After"] = str(wait)
        return response
    if isinstance(exc, AuthenticationError):
        return error_response(
            request,
            401,
            "not_authenticated",
            _("Authentication required: send Authorization: Bearer <token>."),
        )
    if isinstance(exc, AuthorizationError):
        return error_response(request, 403, "forbidden", _("Not allowed."))
    if exc.status_code == 400:
        return error_response(request, 400, "bad_request", _("The request body is not valid JSON."))
    return error_response(request, exc.status_code, "http_error", str(exc))


@api.exception_handler(Exception)
def on_unexpected(request: HttpRequest, exc: Exception) -> HttpResponse:
    if database_down(exc):
        logger.warning("database unavailable in API %s %s: %s", request.method, request.path, exc)
        response = error_response(
            request,
            503,
            "database_unavailable",
            _("The service's database is not answering; retry in a few seconds."),
            details={"retry_after": RETRY_AFTER_DB},
        )
        response["Retry-After"] = str(RETRY_AFTER_DB)
        return response
    # A bug: log it fully, answer in the same shape without leaking internals.
    logger.exception("unhandled error in API %s %s", request.method, request.path)
    return error_response(request, 500, "server_error", _("Internal error; it has been logged."))


api.add_router("/", tokens_api.router, tags=["tokens"])
api.add_router("/", bookings_api.catalogue_router, tags=["catalogue"])
api.add_router("/", bookings_api.router, tags=["bookings"])
api.add_router("/", rounds_api.router, tags=["rounds"])
api.add_router("/", approvals_api.router, tags=["approvals"])
api.add_router("/", tenancy_api.router, auth=READ, tags=["quotas"])
api.add_router("/", compute_api.router, tags=["jobs"])
api.add_router("/", usage_api.router, tags=["usage"])
api.add_router("/", billing_api.router, tags=["billing"])
