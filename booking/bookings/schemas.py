"""API schemas of the catalogue, free slots and bookings."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Literal

from ninja import Field, Schema
from pydantic import StringConstraints

from booking.api_common import Id, PageIn, Slug, StrictIn, Text, When


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


BookingStatusName = Literal[
    "requested",
    "confirmed",
    "refused",
    "waitlisted",
    "cancelled",
    "completed",
    "in_use",
    "no_show",
    "pending_approval",
]


Weekday = Literal["MO", "TU", "WE", "TH", "FR", "SA", "SU"]


class RecurrenceIn(StrictIn):
    """Repeat an instant booking (a subset of RFC 5545 RRULE): daily or weekly, every
    ``interval`` days/weeks, ``count`` occurrences or until a local date (inclusive)."""

    freq: Literal["daily", "weekly"] = Field(description="Repeat daily or weekly.")
    interval: int = Field(1, ge=1, le=52, description="Every n days or weeks.")
    count: int | None = Field(None, ge=1, le=100, description="Number of occurrences…")
    until: dt.date | None = Field(None, description="…or the last day (local, inclusive).")
    by_day: list[Weekday] | None = Field(
        None, max_length=7, description="Weekly: the weekdays (the start's weekday among them)."
    )
    skip_conflicts: bool = Field(
        False,
        description="Book the free occurrences and list the others (GET /series/{id}); "
        "without it any refused occurrence refuses the whole series.",
    )


class BookingIn(StrictIn):
    """An instant booking (``resource`` + ``start``/``end``) or, for a round-booked resource or
    a pool, a round request (``earliest_start``/``latest_end``/``duration_minutes``)."""

    resource: Slug | None = Field(None, description="Resource slug (or give a pool).")
    pool: Slug | None = Field(None, description="Pool slug: a round request for any member.")
    title: Annotated[Text, StringConstraints(min_length=1, max_length=200)]
    units: int = Field(1, ge=1, le=1000, description="GPUs on a GPU node; 1 otherwise.")
    cpus: int = Field(
        0,
        ge=0,
        le=100_000,
        description="Round request for a GPU node: CPUs per node besides the GPUs "
        "(0: not stated; at most the node's CPUs).",
    )
    memory_gb: int = Field(
        0,
        ge=0,
        le=100_000_000,
        description="Round request for a GPU node: memory per node in GB "
        "(0: not stated; at most the node's memory).",
    )
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
    recurrence: RecurrenceIn | None = Field(
        None,
        description="Instant booking: repeat it. The answer is the first occurrence booked; "
        "its series (GET /series/{id}) lists all occurrences and the skipped ones.",
    )
    project: Id | None = Field(
        None, description="The tenant's project to charge (default: the tenant's default)."
    )


class BookingOut(Schema):
    id: int
    tenant: str
    user: str
    resource: str | None
    pool: str | None
    round: int | None
    title: str
    units: int
    cpus: int = Field(description="Round request for a GPU node: CPUs per node (0: not stated).")
    memory_gb: int = Field(
        description="Round request for a GPU node: memory per node in GB (0: not stated)."
    )
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
    series: int | None = Field(None, alias="series_id", description="Its recurring series.")

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


class BookingChangeIn(StrictIn):
    """New times of a booking: move or shorten it before it starts, or end a running one
    earlier (give back the unused time); for a round request before its round's cut-off, a new
    window or duration. A field left out keeps its value."""

    start: When | None = Field(None, description="New start (not for a running booking).")
    end: When | None = Field(None, description="New end.")
    earliest_start: When | None = Field(
        None, description="A round request's new earliest start (before the cut-off)."
    )
    latest_end: When | None = Field(
        None, description="A round request's new latest end (before the cut-off)."
    )
    duration_minutes: int | None = Field(
        None, description="A round request's new duration in minutes (before the cut-off)."
    )


class OccurrenceOut(Schema):
    id: int
    start: dt.datetime
    end: dt.datetime
    status: BookingStatusName


class ProblemOut(Schema):
    code: str
    message: str
    field: str


class SkippedOut(Schema):
    start: dt.datetime
    end: dt.datetime
    errors: list[ProblemOut]


class SeriesOut(Schema):
    id: int
    tenant: str
    user: str
    resource: str
    title: str
    rule: str = Field(description="RFC 5545 RRULE of the series.")
    occurrences: list[OccurrenceOut]
    skipped: list[SkippedOut] = Field(description="Occurrences left out with skip_conflicts.")
    created_at: dt.datetime

    @staticmethod
    def resolve_tenant(obj) -> str:
        return obj.tenant.slug

    @staticmethod
    def resolve_user(obj) -> str:
        return obj.user.get_username()

    @staticmethod
    def resolve_resource(obj) -> str:
        return obj.resource.slug

    @staticmethod
    def resolve_occurrences(obj) -> list:
        return list(obj.occurrences.order_by("start", "id"))
