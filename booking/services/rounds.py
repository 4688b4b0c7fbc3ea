"""Allocation rounds: requests, close, plan, publish, what-if and the waitlist.

Life cycle of a round: OPEN (requests gather) → CLOSED (at or before the cut-off) → SOLVING (the
planner runs in a huey task) → SOLVED (the operator reviews the plan) → PUBLISHED (outcomes
written to the requests, people told). A SOLVED round may be planned again.

Every status change of a round is a compare-and-set (``filter(pk, status=old).update``), so two
operators clicking at once cannot both close, plan or publish it. Request status changes go
through ``booking.services.bookings.booking_transition``.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import IntegrityError, OperationalError, transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext as _

import scheduler
from booking import planning
from booking.errors import Conflict, NotFound, ParkError
from booking.models import (
    HOLDING_STATUSES,
    AllocationRound,
    Booking,
    BookingEvent,
    BookingStatus,
    Membership,
    Tenant,
)
from booking.reasons import reason_text_stored
from booking.services.bookings import booking_transition, peak_units
from resources.models import (
    BookingMode,
    Recipe,
    Resource,
    ResourceKind,
    ResourcePool,
    TrainingRecord,
)

logger = logging.getLogger(__name__)

Status = AllocationRound.Status

# A waitlist re-plan runs inside a member's cancel request: keep it short.
WAITLIST_TIME_LIMIT = 5.0
# What-if previews run while the operator waits for the page.
WHAT_IF_TIME_LIMIT = 10.0


def _fmt(value: dt.datetime) -> str:
    return timezone.localtime(value).strftime("%Y-%m-%d %H:%M")


# --------------------------------------------------------------------------------------------
# Rounds
# --------------------------------------------------------------------------------------------


def round_create(
    *,
    name: str,
    period_start: dt.datetime,
    period_end: dt.datetime,
    cutoff: dt.datetime,
    time_limit_seconds: int | None = None,
    actor=None,
) -> AllocationRound:
    """Open a new round for requests over [period_start, period_end), closing at ``cutoff``."""
    name = (name or "").strip()
    if not name:
        raise ParkError("name_required", _("name: give the round a name."), field="name")
    for field, value in (
        ("period_start", period_start),
        ("period_end", period_end),
        ("cutoff", cutoff),
    ):
        if value is None:
            raise ParkError(
                f"{field}_required", _("%(field)s: required.") % {"field": field}, field=field
            )
    if period_end <= period_start:
        raise ParkError(
            "period_ends_before_start",
            _("period_end: the period must end after it starts."),
            field="period_end",
        )
    if cutoff > period_start:
        raise ParkError(
            "cutoff_after_start",
            _("cutoff: the cut-off must not be after the period starts."),
            field="cutoff",
        )
    if cutoff <= timezone.now():
        raise ParkError(
            "cutoff_in_past", _("cutoff: the cut-off must be in the future."), field="cutoff"
        )
    limit = time_limit_seconds or int(settings.PLANNER_TIME_LIMIT)
    if not 1 <= limit <= 600:
        raise ParkError(
            "bad_time_limit",
            _("time_limit_seconds: between 1 and 600 seconds."),
            field="time_limit_seconds",
        )
    rnd = AllocationRound(
        name=name[:120],
        period_start=period_start,
        period_end=period_end,
        cutoff=cutoff,
        time_limit_seconds=limit,
        status=Status.OPEN,
    )
    try:
        rnd.full_clean()
    except ValidationError as exc:
        field, messages = next(iter(exc.message_dict.items()))
        raise ParkError("invalid_round", f"{field}: {' '.join(messages)}", field=field) from None
    with transaction.atomic():
        rnd.save()
    logger.info("round %s opened by %s", rnd.pk, actor)
    return rnd


def _round_cas(
    rnd: AllocationRound,
    *,
    old: tuple[str, ...],
    new: str,
    code: str,
    also: Q | None = None,
    **fields,
) -> AllocationRound:
    """Compare-and-set the round's status; ``Conflict(code)`` when someone else got there first.

    ``also``: a further condition under which the change is allowed (e.g. a stale SOLVING)."""
    allowed = Q(status__in=old) if also is None else Q(status__in=old) | also
    updated = AllocationRound.objects.filter(allowed, pk=rnd.pk).update(status=new, **fields)
    if updated != 1:
        current = AllocationRound.objects.filter(pk=rnd.pk).values_list("status", flat=True).first()
        if current is None:
            raise NotFound("round", field="round")
        raise Conflict(
            code,
            _("status: the round is %(status)s; this cannot be done now.")
            % {"status": Status(current).label},
            field="status",
        )
    rnd.refresh_from_db()
    return rnd


def round_close(*, round: AllocationRound, actor=None) -> AllocationRound:
    """OPEN → CLOSED: no more requests. The operator may close before the cut-off."""
    return _round_cas(round, old=(Status.OPEN,), new=Status.CLOSED, code="round_not_open")


def rounds_close_due(*, now: dt.datetime | None = None) -> int:
    """Close every open round whose cut-off has passed. Returns how many were closed."""
    now = now or timezone.now()
    return AllocationRound.objects.filter(status=Status.OPEN, cutoff__lte=now).update(
        status=Status.CLOSED
    )


def solve_stale_after(rnd: AllocationRound) -> dt.timedelta:
    """How long a SOLVING round may go without a result before it may be planned again."""
    return dt.timedelta(seconds=3 * (rnd.time_limit_seconds or 10) + 120)


def round_run_planner(*, round: AllocationRound, actor=None) -> AllocationRound:
    """CLOSED or SOLVED (or SOLVING for longer than ``solve_stale_after``) → SOLVING, and queue
    the planner (a huey task) once this commits.

    Only one caller can win the status change, so two solves of a round never run at once;
    the task also takes a huey lock per round.
    """
    from booking.round_tasks import round_solve_task

    with transaction.atomic():
        rnd = _round_cas(
            round,
            old=(Status.CLOSED, Status.SOLVED),
            new=Status.SOLVING,
            code="round_not_closed",
            # A planner that died (worker killed, queue lost) must not lock the round for ever.
            also=Q(
                status=Status.SOLVING,
                solve_started_at__lt=timezone.now() - solve_stale_after(round),
            ),
            solve_started_at=timezone.now(),
            solve_error="",
        )
        transaction.on_commit(lambda: round_solve_task(rnd.pk))
    return rnd


def round_solve_now(*, round: AllocationRound) -> AllocationRound | None:
    """Run the planner of a SOLVING round in this process (the huey task calls this)."""
    return planning.round_plan_solve(round_id=round.pk)


def _check_free(rnd_outcomes: list[tuple[Booking, Resource, dt.datetime, dt.datetime]]) -> None:
    """Refuse to publish a plan that clashes with bookings made since it was computed.

    PostgreSQL's exclusion constraint would catch capacity-1 clashes too; this check also
    covers GPU capacity and SQLite, and names the clash.
    """
    by_resource: dict[int, list] = {}
    for booking, resource, start, end in rnd_outcomes:
        by_resource.setdefault(resource.pk, []).append((booking, resource, start, end))
    for items in by_resource.values():
        resource = items[0][1]
        lo = min(s for _b, _r, s, _e in items)
        hi = max(e for _b, _r, _s, e in items)
        holding = list(
            Booking.objects.filter(
                resource=resource, status__in=HOLDING_STATUSES, start__lt=hi, end__gt=lo
            ).values_list("start", "end", "units")
        )
        rows = holding + [(s, e, b.units) for b, _r, s, e in items]
        for _booking, _r, start, end in items:
            if peak_units(rows, start, end) > resource.capacity:
                raise Conflict(
                    "plan_stale",
                    _(
                        "plan: %(resource)s has been booked at %(start)s since the plan was made; "
                        "run the planner again."
                    )
                    % {"resource": resource.name, "start": _fmt(start)},
                    field="round",
                )


def _for_mail(pks: list[int]) -> dict[int, Booking]:
    """Bookings with what their e-mail shows, in one query (the round's plan left out: the
    reason needs only its small figures)."""
    return (
        Booking.objects.select_related("user", "tenant", "resource", "pool", "round")
        .defer("round__plan")
        .in_bulk(pks)
    )


def round_publish(*, round: AllocationRound, actor=None) -> AllocationRound:
    """SOLVED → PUBLISHED, writing every request's outcome in one transaction.

    Granted → CONFIRMED with resource/start/end (reason ``granted`` or ``moved``); not granted →
    WAITLISTED, or REFUSED when the reason means it can never fit (no valid training, no
    feasible start, more than the quota). Each owner is told once the transaction commits.
    Requests cancelled since the plan was made are left alone.
    """
    from booking.notifications import notify_booking

    notices: list[tuple[Booking, str, dict]] = []
    try:
        with transaction.atomic():
            rnd = AllocationRound.objects.select_for_update().filter(pk=round.pk).first()
            if rnd is None:
                raise NotFound("round", field="round")
            if rnd.status != Status.SOLVED:
                raise Conflict(
                    "round_not_solved",
                    _("status: the round is %(status)s; only a planned round can be published.")
                    % {"status": Status(rnd.status).label},
                    field="status",
                )
            outcomes = planning.stored_outcomes(rnd)
            bookings = {
                b.pk: b
                for b in rnd.requests.filter(status=BookingStatus.REQUESTED).select_related(
                    "user", "tenant", "resource"
                )
            }
            resources = {
                r.slug: r
                for r in Resource.objects.filter(
                    slug__in={o.resource for o in outcomes.values() if o.resource}
                )
            }
            if any(o.granted and o.resource not in resources for o in outcomes.values()):
                raise Conflict(
                    "plan_stale",
                    _("plan: a resource of the plan no longer exists; run the planner again."),
                    field="round",
                )
            granted = [
                (bookings[pk], resources[o.resource], o.start, o.end)
                for pk, o in outcomes.items()
                if o.granted and pk in bookings
            ]
            _check_free(granted)
            for pk, booking in sorted(bookings.items()):
                outcome = outcomes.get(pk) or planning.Outcome(pk, False, "not_planned", {})
                text = reason_text_stored(outcome.code, outcome.params)
                if outcome.granted:
                    resource = resources[outcome.resource]
                    booking = booking_transition(
                        booking=booking,
                        to_status=BookingStatus.CONFIRMED,
                        actor=actor,
                        note=f"round {rnd.pk}: {outcome.code}",
                        resource=resource,
                        start=outcome.start,
                        end=outcome.end,
                        reason_code=outcome.code,
                        reason_text=text,
                    )
                    # The reason text says when and why; a window was never a booked time.
                    event = "moved" if outcome.code == "moved" else "confirmed"
                    notices.append((booking, event, {}))
                else:
                    to = BookingStatus.REFUSED if outcome.final else BookingStatus.WAITLISTED
                    booking = booking_transition(
                        booking=booking,
                        to_status=to,
                        actor=actor,
                        note=f"round {rnd.pk}: {outcome.code}",
                        reason_code=outcome.code,
                        reason_text=text,
                    )
                    notices.append((booking, str(to), {}))
            rnd = _round_cas(
                rnd,
                old=(Status.SOLVED,),
                new=Status.PUBLISHED,
                code="round_not_solved",
                published_at=timezone.now(),
                published_by=actor,
            )

            def send():
                rows = _for_mail([b.pk for b, _event, _extra in notices])
                for b, event, extra in notices:
                    notify_booking(booking=rows[b.pk], event=event, extra={"round": rnd, **extra})

            transaction.on_commit(send)
    except (IntegrityError, OperationalError) as exc:
        if isinstance(exc, OperationalError) and "deadlock" not in str(exc).lower():
            raise
        raise Conflict(
            "plan_stale",
            _(
                "plan: a granted slot has been booked since the plan was made; run the planner again."
            ),
            field="round",
        ) from None
    return rnd


# --------------------------------------------------------------------------------------------
# Requests
# --------------------------------------------------------------------------------------------


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
    check_only: bool = False,
) -> Booking | None:
    """A request for a round-booked resource (or pool), to be planned at the round's cut-off.

    With ``check_only`` (the form's live validation) every rule that needs no lock on the
    round is checked, the same code raising the same errors, and nothing is written: returns
    None when those rules pass.

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
    from booking.notifications import notify_booking

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
    if check_only:
        return None

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
                % {"name": rnd.name, "cutoff": _fmt(rnd.cutoff)},
                status=409,
            )
        if earliest_start < rnd.period_start or latest_end > rnd.period_end:
            raise _err(
                "window_outside_round",
                "earliest_start",
                _("earliest_start: the window must lie within the round, %(start)s – %(end)s.")
                % {"start": _fmt(rnd.period_start), "end": _fmt(rnd.period_end)},
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


# --------------------------------------------------------------------------------------------
# What-if
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class OutcomeChange:
    """A request whose outcome differs under the changed weights or quotas."""

    booking: Booking
    before: planning.Outcome
    after: planning.Outcome

    @property
    def kind(self) -> str:
        """``gained`` / ``lost`` (granted or not), ``moved`` (granted at another time or place),
        ``reason`` (still not granted, for another reason)."""
        if self.after.granted != self.before.granted:
            return "gained" if self.after.granted else "lost"
        return "moved" if self.after.granted else "reason"


def _tenant_slug(key) -> str:
    if isinstance(key, Tenant):
        return key.slug
    if isinstance(key, int):
        slug = Tenant.objects.filter(pk=key).values_list("slug", flat=True).first()
        if slug is None:
            raise NotFound("tenant", field="tenant")
        return slug
    return str(key)


def round_what_if(
    *,
    round: AllocationRound,
    weights: Mapping | None = None,
    quotas: Mapping | None = None,
    time_limit: float | None = None,
) -> list[OutcomeChange]:
    """Re-plan a solved round with changed weights and/or quotas; nothing is stored.

    ``weights``: ``{tenant: weight}``; ``quotas``: ``{tenant: {resource_class: hours or None}}``
    (hours left for the round; ``None`` lifts the cap). Tenants are ``Tenant`` objects, ids or
    slugs. Out: the requests whose outcome (granted or not, where, when) changes, compared with
    the stored plan.
    """
    rnd = AllocationRound.objects.get(pk=round.pk)
    stored = planning.stored_problem(rnd)
    if stored is None or rnd.status not in (Status.SOLVED, Status.PUBLISHED):
        raise Conflict(
            "round_not_solved", _("round: run the planner before a what-if."), field="round"
        )
    problem, base = stored
    in_round = {t.id for t in problem.tenants}
    slot = problem.slot_minutes
    new_weights: dict[str, float] = {}
    for key, value in (weights or {}).items():
        slug = _tenant_slug(key)
        try:
            w = float(Decimal(str(value)))
        except (InvalidOperation, ValueError):
            raise _err("bad_weight", f"weights[{slug}]", _("weight: must be a number.")) from None
        if not w > 0 or w != w or w == float("inf"):
            raise _err("bad_weight", f"weights[{slug}]", _("weight: must be above 0."))
        if slug in in_round:
            new_weights[slug] = w
    new_quotas: dict[str, dict[str, int | None]] = {}
    for key, per_class in (quotas or {}).items():
        slug = _tenant_slug(key)
        for cls, hours in (per_class or {}).items():
            if cls not in ResourceKind.values:
                raise _err(
                    "bad_resource_class", f"quotas[{slug}]", _("quota: unknown resource class.")
                )
            if hours is None:
                slots = None
            else:
                try:
                    h = Decimal(str(hours))
                except InvalidOperation:
                    raise _err(
                        "bad_quota", f"quotas[{slug}]", _("quota: must be a number.")
                    ) from None
                if not h.is_finite() or h < 0:
                    raise _err("bad_quota", f"quotas[{slug}]", _("quota: must be 0 or more hours."))
                slots = int(h * 60 // slot)
            if slug in in_round:
                new_quotas.setdefault(slug, {})[cls] = slots
    limit = time_limit or min(float(rnd.time_limit_seconds), WHAT_IF_TIME_LIMIT)
    result = scheduler.what_if(
        problem,
        weights=new_weights,
        quotas=new_quotas,
        base=base,
        time_limit=limit,
        workers=2,
        seed=0,
    )
    bookings = {
        str(b.pk): b
        for b in Booking.objects.filter(
            pk__in=[int(q.id) for q in problem.requests]
        ).select_related("tenant", "user", "resource", "pool")
    }
    names = (rnd.plan or {}).get("resource_names", {})
    present = {k: v for k, v in bookings.items()}
    if len(present) != len(problem.requests):
        # A request deleted since the plan: compare only those still there.
        problem = problem.replace(requests=tuple(q for q in problem.requests if q.id in present))
    before = planning.outcomes_from_plan(
        problem=problem, plan=base, bookings=present, resource_names=names
    )
    after = planning.outcomes_from_plan(
        problem=problem, plan=result.changed, bookings=present, resource_names=names
    )
    changes = []
    for q in problem.requests:
        pk = int(q.id)
        if before[pk].summary() != after[pk].summary():
            changes.append(OutcomeChange(bookings[q.id], before[pk], after[pk]))
    # What an operator weighs first: who would gain or lose a booking; then mere moves.
    order = {"gained": 0, "lost": 1, "moved": 2, "reason": 3}
    changes.sort(key=lambda c: (order[c.kind], c.booking.tenant.name, c.booking.pk))
    return changes


# --------------------------------------------------------------------------------------------
# Waitlist
# --------------------------------------------------------------------------------------------


def waitlist_on_cancel(*, booking: Booking, now: dt.datetime | None = None) -> list[Booking]:
    """Re-plan the time a cancelled round booking freed among the round's waitlisted requests.

    Called by ``booking_cancel`` after a confirmed booking is cancelled. The waitlisted requests
    of the same (published) round are planned again under the same fairness contract, over the
    time no booking holds from now on; those that now fit become CONFIRMED (reason
    ``promoted``) and their owners are told. Returns the promoted bookings.
    """
    from booking.notifications import notify_booking

    if booking.round_id is None:
        return []
    now = now or timezone.now()
    promoted: list[Booking] = []
    with transaction.atomic():
        # One waitlist re-plan per round at a time.
        rnd = AllocationRound.objects.select_for_update().filter(pk=booking.round_id).first()
        if rnd is None or rnd.status != Status.PUBLISHED or rnd.period_end <= now:
            return []
        waiting = list(rnd.requests.filter(status=BookingStatus.WAITLISTED))
        if not waiting:
            return []
        exclude = [booking] if booking.status in HOLDING_STATUSES else []
        try:
            rp = planning.round_problem_build(
                round=rnd, bookings=waiting, not_before=now, exclude=exclude
            )
            if not rp.problem.requests:
                return []
            plan, _wall = planning.solve_round_problem(
                rp, time_limit=min(WAITLIST_TIME_LIMIT, float(rnd.time_limit_seconds))
            )
        except Exception:  # noqa: BLE001 - the cancellation stands even if re-planning fails
            logger.exception("re-planning the waitlist of round %s failed", rnd.pk)
            return []
        names = {slug: r.name for slug, r in rp.resources.items()}
        outcomes = planning.outcomes_from_plan(
            problem=rp.problem, plan=plan, bookings=rp.bookings, resource_names=names
        )
        for pk, outcome in sorted(outcomes.items()):
            if not outcome.granted:
                continue
            candidate = rp.bookings[str(pk)]
            resource = rp.resources[outcome.resource]
            params = dict(outcome.params)
            try:
                with transaction.atomic():
                    _check_free([(candidate, resource, outcome.start, outcome.end)])
                    done = booking_transition(
                        booking=candidate,
                        to_status=BookingStatus.CONFIRMED,
                        actor=None,
                        note=f"promoted from the waitlist after booking {booking.pk} was cancelled",
                        resource=resource,
                        start=outcome.start,
                        end=outcome.end,
                        reason_code="promoted",
                        reason_text=reason_text_stored("promoted", params),
                    )
            except (ParkError, IntegrityError) as exc:
                # Someone took the time or changed the request meanwhile: it stays waitlisted.
                logger.info("waitlisted request %s not promoted: %s", pk, exc)
                continue
            promoted.append(done)
        if promoted:
            _remember_promotions(rnd, promoted)

            def send():
                rows = _for_mail([b.pk for b in promoted])
                for b in promoted:
                    notify_booking(booking=rows[b.pk], event="promoted", extra={"round": rnd})

            transaction.on_commit(send)
    return promoted


def _remember_promotions(rnd: AllocationRound, promoted: list[Booking]) -> None:
    """Keep the promoted outcomes with the round's plan, so reasons render in any language."""
    plan = dict(rnd.plan or {})
    outcomes = dict(plan.get("outcomes") or {})
    for b in promoted:
        outcomes[str(b.pk)] = planning.Outcome(
            b.pk,
            True,
            "promoted",
            {"resource": b.resource.name, "start": b.start.isoformat(), "end": b.end.isoformat()},
            b.resource.slug,
            b.start,
            b.end,
        ).as_json()
    plan["outcomes"] = outcomes
    AllocationRound.objects.filter(pk=rnd.pk).update(plan=plan)
