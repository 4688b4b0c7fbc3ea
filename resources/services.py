"""Writes to the catalogue. Each function validates fully and saves atomically."""

from __future__ import annotations

import datetime as dt

from django.core.exceptions import ValidationError
from django.db import transaction

from resources.models import (
    BookingMode,
    Changeover,
    GpuNode,
    LabInstrument,
    Location,
    MaintenanceWindow,
    PilotLine,
    Recipe,
    Resource,
    ResourceKind,
    Training,
    TrainingRecord,
    WeeklyHours,
)


def _save(obj):
    obj.full_clean()
    obj.save()
    return obj


@transaction.atomic
def gpu_node_create(
    *,
    name: str,
    slug: str,
    location: Location,
    gpu_model: str,
    gpu_count: int,
    gpu_memory_gb: int,
    cpus: int,
    memory_gb: int,
    slurm_cluster: str,
    slurm_partition: str,
    slurm_node: str,
    booking_mode: str = BookingMode.INSTANT,
    **rules,
) -> Resource:
    """A GPU node: its capacity is its GPU count (bookings take whole GPUs)."""
    if gpu_count is None or gpu_count < 1:
        raise ValidationError({"gpu_count": "A GPU node has at least one GPU."})
    resource = _save(
        Resource(
            name=name,
            slug=slug,
            kind=ResourceKind.GPU_NODE,
            location=location,
            capacity=gpu_count,
            booking_mode=booking_mode,
            **rules,
        )
    )
    _save(
        GpuNode(
            resource=resource,
            gpu_model=gpu_model,
            gpu_count=gpu_count,
            gpu_memory_gb=gpu_memory_gb,
            cpus=cpus,
            memory_gb=memory_gb,
            slurm_cluster=slurm_cluster,
            slurm_partition=slurm_partition,
            slurm_node=slurm_node,
        )
    )
    return resource


@transaction.atomic
def pilot_line_create(
    *,
    name: str,
    slug: str,
    location: Location,
    process: str,
    min_run_minutes: int,
    recipes: dict[str, str],
    changeovers: dict[str, dict[str, int]],
    shifts: list[tuple[int, dt.time, dt.time]] = (),
    booking_mode: str = BookingMode.ROUND,
    **rules,
) -> Resource:
    """A pilot line with its recipes ``{code: name}`` and changeover matrix ``{from: {to: minutes}}``."""
    resource = _save(
        Resource(
            name=name,
            slug=slug,
            kind=ResourceKind.PILOT_LINE,
            location=location,
            capacity=1,
            booking_mode=booking_mode,
            **rules,
        )
    )
    _save(PilotLine(resource=resource, process=process, min_run_minutes=min_run_minutes))
    for code, recipe_name in recipes.items():
        _save(Recipe(line=resource, code=code, name=recipe_name))
    line_set_changeovers(line=resource, matrix=changeovers)
    for weekday, opens, closes in shifts:
        _save(
            WeeklyHours(
                resource=resource,
                purpose=WeeklyHours.Purpose.SHIFT,
                weekday=weekday,
                opens=opens,
                closes=closes,
            )
        )
    return resource


@transaction.atomic
def line_set_changeovers(*, line: Resource, matrix: dict[str, dict[str, int]]) -> list[Changeover]:
    """Replace a line's changeover matrix. Refuses unknown recipes and negative times; all or nothing."""
    recipes = {r.code: r for r in Recipe.objects.filter(line=line)}
    errors: list[str] = []
    rows: list[Changeover] = []
    for src, targets in matrix.items():
        if src not in recipes:
            errors.append(
                f"changeover matrix names unknown recipe “{src}” (line {line.slug} has: "
                f"{', '.join(sorted(recipes)) or 'none'})"
            )
            continue
        for dst, minutes in targets.items():
            if dst not in recipes:
                errors.append(
                    f"changeover matrix names unknown recipe “{dst}” (line {line.slug} has: "
                    f"{', '.join(sorted(recipes)) or 'none'})"
                )
                continue
            if not isinstance(minutes, int) or isinstance(minutes, bool) or minutes < 0:
                errors.append(
                    f"changeover {src} → {dst} must be a whole number of minutes ≥ 0, got {minutes!r}"
                )
                continue
            rows.append(
                Changeover(
                    line=line, from_recipe=recipes[src], to_recipe=recipes[dst], minutes=minutes
                )
            )
    if errors:
        raise ValidationError({"changeovers": errors})
    Changeover.objects.filter(line=line).delete()
    for row in rows:
        _save(row)
    return rows


@transaction.atomic
def lab_instrument_create(
    *,
    name: str,
    slug: str,
    location: Location,
    instrument_type: str,
    make_model: str = "",
    required_training: Training | None = None,
    opening_hours: list[tuple[int, dt.time, dt.time]] = (),
    booking_mode: str = BookingMode.INSTANT,
    **rules,
) -> Resource:
    resource = _save(
        Resource(
            name=name,
            slug=slug,
            kind=ResourceKind.LAB_INSTRUMENT,
            location=location,
            capacity=1,
            required_training=required_training,
            booking_mode=booking_mode,
            **rules,
        )
    )
    _save(LabInstrument(resource=resource, instrument_type=instrument_type, make_model=make_model))
    for weekday, opens, closes in opening_hours:
        _save(
            WeeklyHours(
                resource=resource,
                purpose=WeeklyHours.Purpose.OPENING,
                weekday=weekday,
                opens=opens,
                closes=closes,
            )
        )
    return resource


def maintenance_add(
    *, resource: Resource, start: dt.datetime, end: dt.datetime, reason: str = ""
) -> MaintenanceWindow:
    return _save(MaintenanceWindow(resource=resource, start=start, end=end, reason=reason))


def training_grant(
    *, user, training: Training, granted_on: dt.date, expires_on: dt.date | None = None
) -> TrainingRecord:
    """Record that ``user`` holds ``training``; by default valid for the training's validity period."""
    if expires_on is None:
        expires_on = granted_on + dt.timedelta(days=training.validity_days)
    return _save(
        TrainingRecord(user=user, training=training, granted_on=granted_on, expires_on=expires_on)
    )
