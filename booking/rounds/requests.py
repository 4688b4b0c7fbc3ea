"""Round requests: a window and a duration for the planner to place at the round's cut-off."""

from __future__ import annotations

import datetime as dt

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from booking.bookings.models import Booking, BookingEvent, BookingStatus
from booking.errors import NotFound, ParkError
from booking.formats import fmt_minute
from booking.rounds.lifecycle import Status
from booking.rounds.models import AllocationRound
from booking.tenancy.models import Membership, Tenant
from resources.models import (
    BookingMode,
    Recipe,
    Resource,
    ResourceKind,
    ResourcePool,
    TrainingRecord,
)


def _err(code: str, field: str, message: str, status: int = 400) -> ParkError:
    return ParkError(code, message, field=field, status=status)


def round_request_create(
    *,
    user,
    tenant: Tenant,
    resource: Resource | None = None,
    pool: ResourcePool | None = None,
    round: AllocationRound | None = None,
    earliest_start: dt.datetime,
    latest_end: dt.datetime,
    duration_minutes: int,
    units: int = 1,
    recipe: Recipe | str | None = None,
    priority: int = 0,
    follows: Booking | None = None,
    max_gap_minutes: int | None = None,
    title: str,
    now: dt.datetime | None = None,
) -> Booking:
    """A request for a round-booked resource (or pool), to be planned at the round's cut-off.

    In: the acting ``user`` and the ``tenant`` they ask for; ``resource`` or ``pool`` (one of
    them); the open ``round`` (default: the open round whose period holds the window); the
    window [``earliest_start``, ``latest_end``) and ``duration_minutes`` the planner places the
    booking in; ``units`` (GPUs; 1 elsewhere); the line ``recipe`` (a ``Recipe`` or its code);
    ``priority`` among the tenant's own requests; ``follows`` another request of the same round
    (a chain: this one starts after it ends, within ``max_gap_minutes``); a ``title``.
    Out: the REQUESTED ``Booking`` with its event. Raises ``ParkError`` with a stable code
    (nothing written): ``not_member``, ``resource_or_pool``, ``not_round_booked``,
    ``no_open_round``, ``round_not_open``, ``round_cutoff_passed``, ``window_ends_before_start``,
    ``window_outside_round``, ``window_shorter_than_duration``, ``duration_out_of_range``,
    ``units_invalid``, ``recipe_required``, ``recipe_unknown``, ``recipe_not_allowed``,
    ``no_valid_training``, ``bad_follows``, ``bad_gap``, ``bad_priority``, ``title_required``.
    """
    from booking.bookings.notifications import notify_booking

    now = now or timezone.now()
    title = (title or "").strip()
    if not title:
        raise _err("title_required", "title", _("title: give the request a title."))
    if len(title) > 200:
        raise _err("title_too_long", "title", _("title: at most 200 characters."))
    if tenant is None or not Membership.objects.filter(user=user, tenant=tenant).exists():
        raise _err(
            "not_member",
            "tenant",
            _("tenant: you are not a member of this tenant."),
            status=403,
        )
    if (resource is None) == (pool is None):
        raise _err("resource_or_pool", "resource", _("resource: name either a resource or a pool."))
    if resource is not None:
        targets = (
            [resource] if resource.active and resource.booking_mode == BookingMode.ROUND else []
        )
        target_name, kind = resource.name, resource.kind
    else:
        targets = list(
            pool.members.filter(active=True, booking_mode=BookingMode.ROUND, kind=pool.kind)
        )
        target_name, kind = pool.name, pool.kind
    if not targets:
        raise _err(
            "not_round_booked",
            "resource",
            _("resource: %(name)s is not planned in allocation rounds; book it directly.")
            % {"name": target_name},
        )
    if earliest_start is None or latest_end is None:
        raise _err("window_required", "earliest_start", _("earliest_start: give the window."))
    if latest_end <= earliest_start:
        raise _err(
            "window_ends_before_start",
            "latest_end",
            _("latest_end: the window must end after it starts."),
        )
    try:
        duration_minutes = int(duration_minutes)
    except (TypeError, ValueError):
        raise _err(
            "duration_invalid", "duration_minutes", _("duration_minutes: give whole minutes.")
        ) from None
    if duration_minutes < 1:
        raise _err(
            "duration_invalid", "duration_minutes", _("duration_minutes: must be at least 1.")
        )
    if (latest_end - earliest_start) < dt.timedelta(minutes=duration_minutes):
        raise _err(
            "window_shorter_than_duration",
            "latest_end",
            _("latest_end: the window is shorter than the duration of %(minutes)s minutes.")
            % {"minutes": duration_minutes},
        )
    lo = min(r.min_length_minutes for r in targets)
    hi = max(r.max_length_minutes for r in targets)
    if kind == ResourceKind.PILOT_LINE:
        runs = [r.line.min_run_minutes for r in targets if hasattr(r, "line")]
        lo = max(lo, min(runs)) if runs else lo
    if not lo <= duration_minutes <= hi:
        raise _err(
            "duration_out_of_range",
            "duration_minutes",
            _("duration_minutes: %(name)s is booked for %(lo)s to %(hi)s minutes.")
            % {"name": target_name, "lo": lo, "hi": hi},
        )
    capacity = max(r.capacity for r in targets)
    if not isinstance(units, int) or units < 1 or units > capacity:
        raise _err(
            "units_invalid",
            "units",
            _("units: between 1 and %(capacity)s.") % {"capacity": capacity},
        )
    if not isinstance(priority, int) or not -100 <= priority <= 100:
        raise _err("bad_priority", "priority", _("priority: a whole number from -100 to 100."))

    # Recipes belong to a line; a line with recipes needs one.
    recipe_obj = None
    if kind == ResourceKind.PILOT_LINE:
        line_ids = [r.pk for r in targets]
        has_recipes = Recipe.objects.filter(line_id__in=line_ids).exists()
        if recipe is None or recipe == "":
            if has_recipes:
                raise _err(
                    "recipe_required", "recipe", _("recipe: choose the process recipe of the run.")
                )
        else:
            code = recipe.code if isinstance(recipe, Recipe) else str(recipe)
            qs = Recipe.objects.filter(line_id__in=line_ids, code=code)
            if isinstance(recipe, Recipe):
                qs = qs.filter(pk=recipe.pk)
            recipe_obj = qs.order_by("pk").first()
            if recipe_obj is None:
                raise _err(
                    "recipe_unknown",
                    "recipe",
                    _("recipe: “%(code)s” is not a recipe of %(name)s.")
                    % {"code": code, "name": target_name},
                )
    elif recipe not in (None, ""):
        raise _err(
            "recipe_not_allowed", "recipe", _("recipe: only a pilot-line run takes a recipe.")
        )

    # Training: a request is refused at once if the user holds no training valid anywhere in
    # the window for any candidate; the planner also checks it covers the whole booking.
    start_day = timezone.localtime(earliest_start).date()
    end_day = timezone.localtime(latest_end).date()
    trained = False
    for r in targets:
        if r.required_training_id is None:
            trained = True
            break
        if TrainingRecord.objects.filter(
            user=user,
            training_id=r.required_training_id,
            granted_on__lte=end_day,
            expires_on__gt=start_day,
        ).exists():
            trained = True
            break
    if not trained:
        raise _err(
            "no_valid_training",
            "resource",
            _("resource: %(name)s needs a training you do not hold in the requested window.")
            % {"name": target_name},
            status=403,
        )

    with transaction.atomic():
        # Lock the round so a concurrent close cannot slip between the check and the insert.
        if round is None:
            rnd = (
                AllocationRound.objects.select_for_update()
                .filter(
                    status=Status.OPEN,
                    cutoff__gt=now,
                    period_start__lte=earliest_start,
                    period_end__gte=latest_end,
                )
                .order_by("period_start", "pk")
                .first()
            )
            if rnd is None:
                raise _err(
                    "no_open_round",
                    "round",
                    _("round: no open allocation round covers this window."),
                )
        else:
            rnd = AllocationRound.objects.select_for_update().filter(pk=round.pk).first()
            if rnd is None:
                raise NotFound("round", field="round")
        if rnd.status != Status.OPEN:
            raise _err(
                "round_not_open",
                "round",
                _("round: %(name)s is closed for requests.") % {"name": rnd.name},
                status=409,
            )
        if now >= rnd.cutoff:
            raise _err(
                "round_cutoff_passed",
                "round",
                _("round: the cut-off of %(name)s was %(cutoff)s.")
                % {"name": rnd.name, "cutoff": fmt_minute(rnd.cutoff)},
                status=409,
            )
        if earliest_start < rnd.period_start or latest_end > rnd.period_end:
            raise _err(
                "window_outside_round",
                "earliest_start",
                _("earliest_start: the window must lie within the round, %(start)s – %(end)s.")
                % {"start": fmt_minute(rnd.period_start), "end": fmt_minute(rnd.period_end)},
            )
        if follows is not None:
            ok = (
                Booking.objects.filter(
                    pk=follows.pk,
                    round=rnd,
                    tenant=tenant,
                    status=BookingStatus.REQUESTED,
                ).exists()
                and not Booking.objects.filter(
                    follows_id=follows.pk, status=BookingStatus.REQUESTED
                ).exists()
            )
            if not ok:
                raise _err(
                    "bad_follows",
                    "follows",
                    _(
                        "follows: a request can only follow an open request of the same tenant "
                        "in the same round that nothing else follows yet."
                    ),
                )
        if max_gap_minutes is not None:
            if follows is None:
                raise _err(
                    "bad_gap",
                    "max_gap_minutes",
                    _("max_gap_minutes: only for a request that follows another."),
                )
            if not isinstance(max_gap_minutes, int) or max_gap_minutes < 0:
                raise _err(
                    "bad_gap",
                    "max_gap_minutes",
                    _("max_gap_minutes: a whole number of minutes ≥ 0."),
                )
        booking = Booking(
            tenant=tenant,
            user=user,
            resource=resource,
            pool=pool,
            round=rnd,
            title=title,
            units=units,
            recipe=recipe_obj,
            earliest_start=earliest_start,
            latest_end=latest_end,
            duration_minutes=duration_minutes,
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
        transaction.on_commit(
            lambda: notify_booking(booking=booking, event="requested", extra={"round": rnd})
        )
    return booking
