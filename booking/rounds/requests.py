"""Round requests: a window and a duration for the planner to place at the round's cut-off."""

from __future__ import annotations

import datetime as dt

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from booking.bookings.models import Booking, BookingEvent, BookingStatus
from booking.bookings.notifications import notify_booking
from booking.errors import BookingRefused, NotFound, ParkError
from booking.formats import when_text
from booking.rounds.lifecycle import Status
from booking.rounds.models import AllocationRound
from booking.rounds.selectors import open_rounds
from booking.tenancy.access import is_member
from booking.tenancy.models import Tenant
from resources.models import (
    BookingMode,
    Recipe,
    Resource,
    ResourceKind,
    ResourcePool,
    TrainingRecord,
)


def _err(
    code: str, field: str, message: str, status: int = 400, *, params: dict | None = None
) -> ParkError:
    return ParkError(code, message, field=field, status=status, params=params)


def _targets(resource: Resource | None, pool: ResourcePool | None) -> tuple[list, str, str]:
    """The round-booked resources a request may be placed on, its name and kind."""
    if resource is not None:
        targets = (
            [resource] if resource.active and resource.booking_mode == BookingMode.ROUND else []
        )
        return targets, resource.name, resource.kind
    members = pool.members.filter(
        active=True, booking_mode=BookingMode.ROUND, kind=pool.kind
    ).select_related("gpu")
    return list(members), pool.name, pool.kind


def _recipe_check(*, kind, targets, recipe, target_name, errors) -> Recipe | None:
    """Recipes belong to a line; a line with recipes needs one."""
    if kind != ResourceKind.PILOT_LINE:
        if recipe not in (None, ""):
            errors.append(
                _err(
                    "recipe_not_allowed",
                    "recipe",
                    _("Only a pilot-line run takes a recipe."),
                )
            )
        return None
    line_ids = [r.pk for r in targets]
    if recipe is None or recipe == "":
        if Recipe.objects.filter(line_id__in=line_ids).exists():
            errors.append(
                _err("recipe_required", "recipe", _("Choose the process recipe of the run."))
            )
        return None
    code = recipe.code if isinstance(recipe, Recipe) else str(recipe)
    qs = Recipe.objects.filter(line_id__in=line_ids, code=code)
    if isinstance(recipe, Recipe):
        qs = qs.filter(pk=recipe.pk)
    found = qs.order_by("pk").first()
    if found is None:
        errors.append(
            _err(
                "recipe_unknown",
                "recipe",
                _("“%(code)s” is not a recipe of %(name)s."),
                params={"code": code, "name": target_name},
            )
        )
    return found


# What a round request may ask on each GPU node besides its GPUs, named as the node's own
# attribute (``GpuNode.cpus``, ``GpuNode.memory_gb``), with the codes of its three rules:
# not a whole number ≥ 0, not a GPU node, more than the node has.
VECTOR_RULES = {
    "cpus": (
        "cpus_invalid",
        ("cpus_not_allowed", gettext_lazy("Only a request for a GPU node asks for CPUs.")),
        ("too_many_cpus", gettext_lazy("%(name)s has at most %(max)s CPUs per node.")),
    ),
    "memory_gb": (
        "memory_invalid",
        ("memory_not_allowed", gettext_lazy("Only a request for a GPU node asks for memory.")),
        ("too_much_memory", gettext_lazy("%(name)s has at most %(max)s GB of memory per node.")),
    ),
}


def _vector_check(*, kind, targets, target_name, asked: dict, errors) -> None:
    """CPUs and memory (GB) per node in ``asked``: whole numbers ≥ 0, where 0 means not stated;
    only a GPU node request states them, and at most what its largest candidate node has."""
    nodes = [node for r in targets if (node := getattr(r, "gpu", None)) is not None]
    for field, (invalid, not_allowed, too_many) in VECTOR_RULES.items():
        value = asked[field]
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            errors.append(_err(invalid, field, _("A whole number ≥ 0 (0: not stated).")))
        elif value and kind != ResourceKind.GPU_NODE:
            errors.append(_err(not_allowed[0], field, not_allowed[1]))
        elif value:
            most = max((getattr(n, field) for n in nodes), default=0)
            if value > most:
                code, message = too_many
                errors.append(_err(code, field, message, params={"name": target_name, "max": most}))


def _trained(*, user, targets, earliest_start, latest_end) -> bool:
    """A training valid somewhere in the window for some candidate (the planner also checks it
    covers the whole booking)."""
    start_day = timezone.localtime(earliest_start).date()
    end_day = timezone.localtime(latest_end).date()
    for r in targets:
        if r.required_training_id is None:
            return True
        if TrainingRecord.objects.filter(
            user=user,
            training_id=r.required_training_id,
            granted_on__lte=end_day,
            expires_on__gt=start_day,
        ).exists():
            return True
    return False


def round_request_check(
    *,
    user,
    tenant: Tenant | None,
    resource: Resource | None,
    pool: ResourcePool | None,
    earliest_start: dt.datetime | None,
    latest_end: dt.datetime | None,
    duration_minutes,
    units,
    recipe,
    priority,
    title: str,
    cpus=0,
    memory_gb=0,
) -> tuple[list[ParkError], dict]:
    """Every rule of a round request that does not need the round: the problems (all of them,
    in a stable order) and what the checks found (``targets``, ``recipe``, ``duration``)."""
    errors: list[ParkError] = []
    found: dict = {"targets": [], "recipe": None, "duration": None}
    title = (title or "").strip()
    if not title:
        errors.append(_err("title_required", "title", _("Give the request a title.")))
    elif len(title) > 200:
        errors.append(_err("title_too_long", "title", _("At most 200 characters.")))
    if tenant is None or not is_member(user=user, tenant_id=tenant.pk):
        errors.append(
            _err(
                "not_member",
                "tenant",
                _("You are not a member of this tenant."),
                status=403,
            )
        )
    targets, target_name, kind = [], "", ""
    if (resource is None) == (pool is None):
        errors.append(_err("resource_or_pool", "resource", _("Name either a resource or a pool.")))
    else:
        targets, target_name, kind = _targets(resource, pool)
        if not targets:
            errors.append(
                _err(
                    "not_round_booked",
                    "resource",
                    _("%(name)s is not planned in allocation rounds; book it directly."),
                    params={"name": target_name},
                )
            )
    found["targets"] = targets
    window = earliest_start is not None and latest_end is not None
    if not window:
        errors.append(_err("window_required", "earliest_start", _("Give the window.")))
    elif latest_end <= earliest_start:
        errors.append(
            _err(
                "window_ends_before_start",
                "latest_end",
                _("The window must end after it starts."),
            )
        )
        window = False
    duration = None
    try:
        duration = int(duration_minutes)
    except (TypeError, ValueError):
        errors.append(_err("duration_invalid", "duration_minutes", _("Give whole minutes.")))
    if duration is not None and duration < 1:
        errors.append(_err("duration_invalid", "duration_minutes", _("Must be at least 1.")))
        duration = None
    found["duration"] = duration
    if duration is not None and window:
        if (latest_end - earliest_start) < dt.timedelta(minutes=duration):
            errors.append(
                _err(
                    "window_shorter_than_duration",
                    "latest_end",
                    _("The window is shorter than the duration of %(minutes)s minutes."),
                    params={"minutes": duration},
                )
            )
    if targets and duration is not None:
        lo = min(r.min_length_minutes for r in targets)
        hi = max(r.max_length_minutes for r in targets)
        if kind == ResourceKind.PILOT_LINE:
            runs = [r.line.min_run_minutes for r in targets if hasattr(r, "line")]
            lo = max(lo, min(runs)) if runs else lo
        if not lo <= duration <= hi:
            errors.append(
                _err(
                    "duration_out_of_range",
                    "duration_minutes",
                    _("%(name)s is booked for %(lo)s to %(hi)s minutes."),
                    params={"name": target_name, "lo": lo, "hi": hi},
                )
            )
    if targets:
        capacity = max(r.capacity for r in targets)
        if not isinstance(units, int) or units < 1 or units > capacity:
            errors.append(
                _err(
                    "units_invalid",
                    "units",
                    _("Between 1 and %(capacity)s."),
                    params={"capacity": capacity},
                )
            )
    if targets:
        _vector_check(
            kind=kind,
            targets=targets,
            target_name=target_name,
            asked={"cpus": cpus, "memory_gb": memory_gb},
            errors=errors,
        )
    if not isinstance(priority, int) or not -100 <= priority <= 100:
        errors.append(_err("bad_priority", "priority", _("A whole number from -100 to 100.")))
    if targets:
        found["recipe"] = _recipe_check(
            kind=kind, targets=targets, recipe=recipe, target_name=target_name, errors=errors
        )
        if window and not _trained(
            user=user, targets=targets, earliest_start=earliest_start, latest_end=latest_end
        ):
            errors.append(
                _err(
                    "no_valid_training",
                    "resource",
                    _("%(name)s needs a training you do not hold in the requested window."),
                    params={"name": target_name},
                    status=403,
                )
            )
    return errors, found


def round_problems(*, rnd, now, earliest_start, latest_end, tenant, follows, max_gap_minutes):
    """The rules that need the (locked) round: open, before its cut-off, window inside it, and
    a chain's predecessor in it."""
    errors: list[ParkError] = []
    if rnd.status != Status.OPEN:
        errors.append(
            _err(
                "round_not_open",
                "round",
                _("%(name)s is closed for requests."),
                params={"name": rnd.name},
                status=409,
            )
        )
    elif now >= rnd.cutoff:
        errors.append(
            _err(
                "round_cutoff_passed",
                "round",
                _("The cut-off of %(name)s was %(cutoff)s."),
                params={"name": rnd.name, "cutoff": when_text(rnd.cutoff)},
                status=409,
            )
        )
    if earliest_start is not None and latest_end is not None:
        if earliest_start < rnd.period_start or latest_end > rnd.period_end:
            errors.append(
                _err(
                    "window_outside_round",
                    "earliest_start",
                    _("The window must lie within the round, %(start)s – %(end)s."),
                    params={"start": when_text(rnd.period_start), "end": when_text(rnd.period_end)},
                )
            )
    if follows is not None:
        ok = (
            Booking.objects.filter(
                pk=follows.pk, round=rnd, tenant=tenant, status=BookingStatus.REQUESTED
            ).exists()
            and not Booking.objects.filter(
                follows_id=follows.pk, status=BookingStatus.REQUESTED
            ).exists()
        )
        if not ok:
            errors.append(
                _err(
                    "bad_follows",
                    "follows",
                    _(
                        "A request can only follow an open request of the same tenant "
                        "in the same round that nothing else follows yet."
                    ),
                )
            )
    if max_gap_minutes is not None:
        if follows is None:
            errors.append(
                _err(
                    "bad_gap",
                    "max_gap_minutes",
                    _("Only for a request that follows another."),
                )
            )
        elif not isinstance(max_gap_minutes, int) or max_gap_minutes < 0:
            errors.append(
                _err(
                    "bad_gap",
                    "max_gap_minutes",
                    _("A whole number of minutes ≥ 0."),
                )
            )
    return errors


def round_request_create(
    *,
    user,
    tenant: Tenant,
    resource: Resource | None = None,
    pool: ResourcePool | None = None,
    allocation_round: AllocationRound | None = None,
    earliest_start: dt.datetime,
    latest_end: dt.datetime,
    duration_minutes: int,
    units: int = 1,
    cpus: int = 0,
    memory_gb: int = 0,
    recipe: Recipe | str | None = None,
    priority: int = 0,
    follows: Booking | None = None,
    max_gap_minutes: int | None = None,
    title: str,
    now: dt.datetime | None = None,
    check_only: bool = False,
) -> Booking | None:
    """A request for a round-booked resource (or pool), to be planned at the round's cut-off.

    With ``check_only`` (the form's live validation) the same rules are checked by the same
    code, the round read without a lock and outside a transaction, and nothing is written:
    raises the same ``BookingRefused`` or returns None when every rule passes.

    In: the acting ``user`` and the ``tenant`` they ask for; ``resource`` or ``pool`` (one of
    them); the open ``allocation_round`` (default: the open round whose period holds the window); the
    window [``earliest_start``, ``latest_end``) and ``duration_minutes`` the planner places the
    booking in; ``units`` (GPUs; 1 elsewhere) and, on a GPU node, ``cpus`` and ``memory_gb``
    per node (0: not stated, not counted); the line ``recipe`` (a ``Recipe`` or its code);
    ``priority`` among the tenant's own requests; ``follows`` another request of the same round
    (a chain: this one starts after it ends, within ``max_gap_minutes``); a ``title``.
    Out: the REQUESTED ``Booking`` with its event. Raises ``BookingRefused`` listing every
    broken rule (nothing written), the first setting code, field and status: ``not_member``, ``resource_or_pool``, ``not_round_booked``,
    ``no_open_round``, ``round_not_open``, ``round_cutoff_passed``, ``window_ends_before_start``,
    ``window_outside_round``, ``window_shorter_than_duration``, ``duration_out_of_range``,
    ``units_invalid``, ``cpus_invalid``, ``cpus_not_allowed``, ``too_many_cpus``,
    ``memory_invalid``, ``memory_not_allowed``, ``too_much_memory``, ``recipe_required``,
    ``recipe_unknown``, ``recipe_not_allowed``, ``no_valid_training``, ``bad_follows``, ``bad_gap``, ``bad_priority``, ``title_required``.
    """
    now = now or timezone.now()
    errors, found = round_request_check(
        user=user,
        tenant=tenant,
        resource=resource,
        pool=pool,
        earliest_start=earliest_start,
        latest_end=latest_end,
        duration_minutes=duration_minutes,
        units=units,
        recipe=recipe,
        priority=priority,
        title=title,
        cpus=cpus,
        memory_gb=memory_gb,
    )
    window = earliest_start is not None and latest_end is not None

    def round_and_problems(*, lock: bool):
        rnd = None
        rounds = AllocationRound.objects.all()
        if allocation_round is not None:
            if lock:
                rounds = rounds.select_for_update()
            rnd = rounds.filter(pk=allocation_round.pk).first()
            if rnd is None:
                raise NotFound("round", field="round")
        elif window:
            covering = open_rounds(now=now).filter(
                period_start__lte=earliest_start, period_end__gte=latest_end
            )
            if lock:
                covering = covering.select_for_update()
            rnd = covering.first()
            if rnd is None:
                errors.append(
                    _err(
                        "no_open_round",
                        "round",
                        _("No open allocation round covers this window."),
                    )
                )
        if rnd is not None:
            errors.extend(
                round_problems(
                    rnd=rnd,
                    now=now,
                    earliest_start=earliest_start,
                    latest_end=latest_end,
                    tenant=tenant,
                    follows=follows,
                    max_gap_minutes=max_gap_minutes,
                )
            )
        if errors:
            raise BookingRefused(errors)
        return rnd

    if check_only:
        round_and_problems(lock=False)
        return None

    with transaction.atomic():
        # Lock the round so a concurrent close cannot slip between the check and the insert.
        rnd = round_and_problems(lock=True)
        targets = found["targets"]
        booking = Booking(
            tenant=tenant,
            user=user,
            resource=resource,
            pool=pool,
            round=rnd,
            title=title.strip(),
            units=units,
            cpus=cpus,
            memory_gb=memory_gb,
            recipe=found["recipe"],
            earliest_start=earliest_start,
            latest_end=latest_end,
            duration_minutes=found["duration"],
            priority=priority,
            follows=follows,
            max_gap_minutes=max_gap_minutes,
            status=BookingStatus.REQUESTED,
            exclusive=all(r.capacity == 1 for r in targets),
        )
        booking.full_clean(validate_constraints=False)
        booking.save()
        BookingEvent.objects.create(
            booking=booking,
            from_status="",
            to_status=BookingStatus.REQUESTED,
            actor=user,
            note=f"round {rnd.pk} request",
        )
        transaction.on_commit(lambda: notify_booking(booking=booking, event="requested"))
    return booking
