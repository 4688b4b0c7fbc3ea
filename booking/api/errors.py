"""The one error body of the API, built from a ParkError (used by the handler and by replays)."""

from __future__ import annotations

from booking.errors import ParkError


def park_error_body(exc: ParkError) -> dict:
    # A refusal that broke several rules lists all of them in details.
    errors = getattr(exc, "errors", None)
    details = [e.as_dict() for e in errors] if errors else None
    return {
        "code": exc.code,
        "message": exc.message,
        "field": exc.field or None,
        "details": details,
    }
