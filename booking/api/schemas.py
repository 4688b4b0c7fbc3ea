"""Input (XIn, strict: unknown fields are refused) and output (XOut) schemas of the researcher API.

Input types are bounded so that nothing a client sends can reach the database as a value it
cannot store (NUL bytes, integers beyond 64 bits, naive or far-off datetimes): such input is a
422 naming the field, never a 500.
"""

from __future__ import annotations

import datetime as dt
import json
from typing import Annotated, Any, Generic, Literal, TypeVar

from ninja import Field, Header, Schema
from pydantic import AfterValidator, AwareDatetime, ConfigDict, StringConstraints

T = TypeVar("T")

# ------------------------------------------------------------------ shared input types


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


class StrictIn(Schema):
    """Base of every input schema: unknown fields are an error, not silently dropped."""

    model_config = ConfigDict(extra="forbid")


# ------------------------------------------------------------------ errors and pages


class ErrorOut(Schema):
    code: str = Field(description="Stable machine-readable error code.")
    message: str = Field(description="What went wrong, naming the field and the rule.")
    field: str | None = Field(None, description="The input field at fault, if any.")
    details: Any = Field(None, description="Extra data, e.g. every validation error.")


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


# ------------------------------------------------------------------ tokens


class TokenOut(Schema):
    id: int
    name: str
    tenant: str = Field(alias="tenant.slug")
    scopes: list[str]
    prefix: str
    created_at: dt.datetime
    expires_at: dt.datetime
    last_used_at: dt.datetime | None
    revoked_at: dt.datetime | None


class WhoAmIOut(Schema):
    username: str
    tenant: str
    tenant_name: str
    scopes: list[str]
    auth: Literal["token", "session"]
    token: TokenOut | None


# ------------------------------------------------------------------ catalogue


class GpuOut(Schema):
    gpu_model: str
    gpu_count: int
    gpu_memory_gb: int
    cpus: int
    memory_gb: int
    slurm_cluster: str
    slurm_partition: str


class RecipeOut(Schema):
    code: str
    name: str


class LineOut(Schema):
    process: str
    min_run_minutes: int
    recipes: list[RecipeOut]

    @staticmethod
    def resolve_recipes(obj) -> list:
        return list(obj.resource.recipes.all())


class InstrumentOut(Schema):
    instrument_type: str
    make_model: str
    biosafety_level: int | None


class ResourceOut(Schema):
    id: int
    slug: str
    name: str
    kind: str
    booking_mode: str
    capacity: int
    location: str
    description: str
    min_notice_minutes: int
    horizon_days: int
    min_length_minutes: int
    max_length_minutes: int
    slot_minutes: int
    required_training: str | None
    gpu: GpuOut | None
    line: LineOut | None
    instrument: InstrumentOut | None

    @staticmethod
    def resolve_location(obj) -> str:
        return obj.location.path()

    @staticmethod
    def resolve_required_training(obj) -> str | None:
        return obj.required_training.code if obj.required_training_id else None

    # The kind's own attributes live in one-to-one rows; absent ones are null.
    @staticmethod
    def resolve_gpu(obj):
        return getattr(obj, "gpu", None)

    @staticmethod
    def resolve_line(obj):
        return getattr(obj, "line", None)

    @staticmethod
    def resolve_instrument(obj):
        return getattr(obj, "instrument", None)


Kind = Literal["gpu", "line", "instrument"]


class CatalogueFilterIn(PageIn):
    kind: Kind | None = Field(None, description="Resource kind.")
    location: Id | None = Field(None, description="A location id; matches everything inside it.")
    gpu_model: Annotated[Text, StringConstraints(max_length=40)] | None = Field(
        None, description="GPU model, case-insensitive (e.g. A100)."
    )
    free_from: When | None = Field(None, description="Free for the whole window from…")
    free_to: When | None = Field(None, description="…until (both or neither; at most 31 days).")
    trained_only: bool = Field(False, description="Only resources you may use today.")


class PoolOut(Schema):
    id: int
    slug: str
    name: str
    kind: str
    members: list[str]

    @staticmethod
    def resolve_members(obj) -> list[str]:
        return [m.slug for m in obj.members.all()]


class WindowIn(StrictIn):
    start: When = Field(description="Window start (with a time zone).")
    end: When = Field(description="Window end; at most 31 days after start.")
    units: int = Field(1, ge=1, le=1000, description="Units wanted (GPUs on a GPU node).")


class SlotOut(Schema):
    start: dt.datetime
    end: dt.datetime
    free_units: int


class AvailabilityOut(Schema):
    resource: str
    start: dt.datetime
    end: dt.datetime
    units: int
    slots: list[SlotOut]


class PoolAvailabilityOut(Schema):
    pool: str
    start: dt.datetime
    end: dt.datetime
    units: int
    resources: list[AvailabilityOut]


# ------------------------------------------------------------------ quotas


class QuotaUseOut(Schema):
    resource_class: str
    period: str
    period_start: dt.datetime
    period_end: dt.datetime
    quota_hours: float
    used_hours: float
    left_hours: float
    percent: int


class UsageOut(Schema):
    tenant: str
    quotas: list[QuotaUseOut]


# ------------------------------------------------------------------ bookings

BookingStatusName = Literal[
    "requested",
    "confirmed",
    "refused",
    "waitlisted",
    "cancelled",
    "completed",
    "in_use",
    "no_show",
]


class BookingIn(StrictIn):
    """An instant booking (``resource`` + ``start``/``end``) or, for a round-booked resource or
    a pool, a round request (``earliest_start``/``latest_end``/``duration_minutes``)."""

    resource: Slug | None = Field(None, description="Resource slug (or give a pool).")
    pool: Slug | None = Field(None, description="Pool slug: a round request for any member.")
    title: Annotated[Text, StringConstraints(min_length=1, max_length=200)]
    units: int = Field(1, ge=1, le=1000, description="GPUs on a GPU node; 1 otherwise.")
    recipe: Slug | None = Field(None, description="Recipe code, for a pilot line run.")
    start: When | None = Field(None, description="Instant booking: start.")
    end: When | None = Field(None, description="Instant booking: end.")
    earliest_start: When | None = Field(None, description="Round request: earliest start.")
    latest_end: When | None = Field(None, description="Round request: latest end.")
    duration_minutes: int | None = Field(None, ge=1, le=100_000, description="Round request.")
    round: Id | None = Field(
        None, description="Round request: the open round (default: the one covering the window)."
    )
    priority: int = Field(0, ge=-100, le=100, description="Round request: your own priority.")
    follows: Id | None = Field(None, description="Round request: must follow this request…")
    max_gap_minutes: int | None = Field(None, ge=0, le=100_000, description="…within this gap.")


class BookingOut(Schema):
    id: int
    tenant: str
    user: str
    resource: str | None
    pool: str | None
    round: int | None
    title: str
    units: int
    recipe: str | None
    start: dt.datetime | None
    end: dt.datetime | None
    earliest_start: dt.datetime | None
    latest_end: dt.datetime | None
    duration_minutes: int | None
    priority: int
    follows: int | None = Field(None, alias="follows_id")
    max_gap_minutes: int | None
    status: BookingStatusName
    reason_code: str
    reason_text: str
    created_at: dt.datetime
    updated_at: dt.datetime

    @staticmethod
    def resolve_tenant(obj) -> str:
        return obj.tenant.slug

    @staticmethod
    def resolve_user(obj) -> str:
        return obj.user.get_username()

    @staticmethod
    def resolve_resource(obj) -> str | None:
        return obj.resource.slug if obj.resource_id else None

    @staticmethod
    def resolve_pool(obj) -> str | None:
        return obj.pool.slug if obj.pool_id else None

    @staticmethod
    def resolve_round(obj) -> int | None:
        return obj.round_id

    @staticmethod
    def resolve_recipe(obj) -> str | None:
        return obj.recipe.code if obj.recipe_id else None


class BookingFilterIn(PageIn):
    status: list[BookingStatusName] | None = Field(None, description="Any of these statuses.")
    resource: Slug | None = Field(None, description="Only bookings of this resource.")
    round: Id | None = Field(None, description="Only requests of this round.")
    whole_tenant: bool = Field(
        False, description="Managers: every booking of the tenant, not only yours."
    )


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


# ------------------------------------------------------------------ rounds

RoundStatusName = Literal["open", "closed", "solving", "solved", "published"]


class RoundOut(Schema):
    id: int
    name: str
    period_start: dt.datetime
    period_end: dt.datetime
    cutoff: dt.datetime
    status: RoundStatusName
    published_at: dt.datetime | None


class RoundFilterIn(PageIn):
    status: list[RoundStatusName] | None = Field(None, description="Any of these statuses.")


class RoundOutcomeFilterIn(PageIn):
    whole_tenant: bool = Field(
        False, description="Managers: every request of the tenant, not only yours."
    )


# ------------------------------------------------------------------ jobs

JobStateName = Literal[
    "queued", "pending", "running", "completed", "failed", "cancelled", "timeout"
]


class JobIn(StrictIn):
    name: Annotated[Text, StringConstraints(min_length=1, max_length=120)]
    script: Annotated[
        str, StringConstraints(min_length=1, max_length=100_000), AfterValidator(_no_nul)
    ] = Field(description="The batch script (starts with #!).")
    pool: Slug | None = Field(None, description="GPU pool to run on (or a booking).")
    booking: Id | None = Field(None, description="Run inside this confirmed GPU booking.")
    partition: Slug | None = Field(None, description="Slurm partition, if not implied.")
    gpus: int = Field(0, ge=0, le=64)
    cpus: int = Field(1, ge=1, le=1024)
    memory_mb: int = Field(1024, ge=1, le=10_000_000)
    time_limit_minutes: int = Field(ge=1, le=43_200)


class JobOut(Schema):
    id: int
    tenant: str
    user: str
    name: str
    pool: str | None
    booking: int | None = Field(None, alias="booking_id")
    partition: str
    gpus: int
    cpus: int
    memory_mb: int
    time_limit_minutes: int
    state: JobStateName
    slurm_job_id: int | None
    reason: str
    exit_code: int | None
    submitted_at: dt.datetime | None
    started_at: dt.datetime | None
    ended_at: dt.datetime | None
    gpu_hours: float
    created_at: dt.datetime

    @staticmethod
    def resolve_tenant(obj) -> str:
        return obj.tenant.slug

    @staticmethod
    def resolve_user(obj) -> str:
        return obj.user.get_username()

    @staticmethod
    def resolve_pool(obj) -> str | None:
        return obj.pool.slug if obj.pool_id else None


class JobOutputOut(Schema):
    job_id: int
    readable: bool = Field(
        description="Whether this server can read the job's output file (it shares the "
        "cluster's job directory and Slurm has given the job an id)."
    )
    output: str | None = Field(
        description="The end of the job's standard output (at most 64 KiB, decoded as UTF-8); "
        "null when not readable."
    )
    truncated: bool = Field(description="Earlier output was left out.")


class JobFilterIn(PageIn):
    state: list[JobStateName] | None = Field(None, description="Any of these states.")


def as_json(schema: type[Schema], obj) -> dict:
    """``obj`` rendered through ``schema`` exactly as the API's JSON renderer would send it
    (so a stored idempotent answer is byte-for-byte what a read returns)."""
    from ninja.responses import NinjaJSONEncoder

    return json.loads(json.dumps(schema.model_validate(obj).model_dump(), cls=NinjaJSONEncoder))
