"""What every router of the API shares: bounded input types, the error body, pages.

Input types are bounded so that nothing a client sends can reach the database as a value it
cannot store (NUL bytes, integers beyond 64 bits, naive or far-off datetimes): such input is a
422 naming the field, never a 500.
"""

from __future__ import annotations

import datetime as dt
import json
from typing import Annotated, Any, Generic, TypeVar

from ninja import Field, Header, Schema
from ninja.responses import NinjaJSONEncoder
from pydantic import AfterValidator, AwareDatetime, ConfigDict, StringConstraints

from booking.errors import ParkError
from booking.field_labels import labelled

T = TypeVar("T")


def _no_nul(value: str) -> str:
    # PostgreSQL text cannot hold NUL; refuse it up front with a clear message.
    if "\x00" in value:
        raise ValueError("must not contain NUL (0x00) characters")
    return value


def _sane_datetime(value: dt.datetime) -> dt.datetime:
    # Far-off years overflow when converted to UTC or to a PostgreSQL timestamptz.
    if not (2000 <= value.year <= 2200):
        raise ValueError("must be between the years 2000 and 2200")
    return value.astimezone(dt.UTC)


Text = Annotated[str, StringConstraints(strip_whitespace=True), AfterValidator(_no_nul)]


Slug = Annotated[str, StringConstraints(min_length=1, max_length=80, pattern=r"^[-a-zA-Z0-9_]+$")]


Id = Annotated[int, Field(ge=1, le=2**62)]


When = Annotated[AwareDatetime, AfterValidator(_sane_datetime)]


def _sane_day(value: dt.date) -> dt.date:
    # A day becomes a local datetime in queries; far-off years overflow there too.
    if not (2000 <= value.year <= 2200):
        raise ValueError("must be between the years 2000 and 2200")
    return value


Day = Annotated[dt.date, AfterValidator(_sane_day)]


class StrictIn(Schema):
    """Base of every input schema: unknown fields are an error, not silently dropped."""

    model_config = ConfigDict(extra="forbid")


class ErrorOut(Schema):
    code: str = Field(description="Stable machine-readable error code.")
    message: str = Field(description="What went wrong, naming the field and the rule.")
    field: str | None = Field(None, description="The input field at fault, if any.")
    details: Any = Field(None, description="Extra data, e.g. every validation error.")
    params: dict = Field(
        default_factory=dict,
        description="The values the rule names (a limit, a name, a time), by name; with "
        "`code`, enough to word the message in the client's own language.",
    )


ERROR_CODES = (400, 401, 403, 404, 409, 422, 429)


def responses(
    ok: dict[int, Any], *, without: tuple[int, ...] = (), extra: tuple[int, ...] = ()
) -> dict[int, Any]:
    """``ok`` plus every error status the API can answer with (so the OpenAPI is honest)."""
    result = dict(ok)
    for code in (*ERROR_CODES, *extra):
        if code not in without:
            result[code] = ErrorOut
    return result


class PageIn(StrictIn):
    limit: int = Field(50, ge=1, le=200, description="Items per page (1–200).")
    offset: int = Field(0, ge=0, le=1_000_000, description="Items to skip.")


class Page(Schema, Generic[T]):  # noqa: UP046 - pydantic generic model
    items: list[T]
    count: int
    limit: int
    offset: int


def paginate(queryset, page: PageIn) -> dict:
    """One page of an ordered queryset (the caller orders it by a unique key)."""
    return {
        "items": list(queryset[page.offset : page.offset + page.limit]),
        "count": queryset.count(),
        "limit": page.limit,
        "offset": page.offset,
    }


IdempotencyKey = Annotated[
    str | None,
    Header(
        None,
        alias="Idempotency-Key",
        description="Any unique string (e.g. a UUID): a retry with the same key returns the "
        "first answer and creates nothing new.",
        min_length=1,
        max_length=200,
        pattern=r"^[\x21-\x7e]+$",
    ),
]


def as_json(schema: type[Schema], obj) -> dict:
    """``obj`` rendered through ``schema`` exactly as the API's JSON renderer would send it
    (so a stored idempotent answer is byte-for-byte what a read returns)."""
    return json.loads(json.dumps(schema.model_validate(obj).model_dump(), cls=NinjaJSONEncoder))


def park_error_body(exc: ParkError) -> dict:
    # A refusal that broke several rules lists all of them in details.
    errors = getattr(exc, "errors", None)
    details = [e.as_dict() for e in errors] if errors else None
    return {
        "code": exc.code,
        "message": labelled(exc.field, exc.message),
        "field": exc.field or None,
        "details": details,
        "params": exc.params,
    }
