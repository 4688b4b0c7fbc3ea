"""Reads about tenants and their quota use. Every function takes the acting user or tenant."""

from __future__ import annotations

import datetime as dt
import os
import stat
from dataclasses import dataclass
from decimal import Decimal

from django.db.models import (
    Case,
    DurationField,
    Exists,
    ExpressionWrapper,
    F,
    OuterRef,
    Q,
    Subquery,
    Sum,
    Value,
    When,
)
from django.db.models.functions import Coalesce
from django.utils import timezone

from booking.errors import NotFound
from booking.models import (
    HOLDING_STATUSES,
    Booking,
    BookingStatus,
    ComputeJob,
    JobState,
    Membership,
    Period,
    Quota,
    Tenant,
)
from resources.models import Resource, ResourceKind


def tenants_for_user(*, user) -> list[Tenant]:
    if not user.is_authenticated:
        return []
    return list(Tenant.objects.filter(memberships__user=user, active=True).order_by("name"))


def membership_for(*, user, tenant: Tenant) -> Membership | None:
    if not user.is_authenticated:
        return None
    return Membership.objects.filter(user=user, tenant=tenant).first()


def period_bounds(*, period: str, at: dt.datetime) -> tuple[dt.datetime, dt.datetime]:
    """The [start, end) of the quota period containing ``at``, in the park's local time zone."""
    local = timezone.localtime(at)
    day = local.date()
    if period == Period.WEEK:
        first = day - dt.timedelta(days=day.weekday())
        last = first + dt.timedelta(days=7)
    elif period == Period.MONTH:
        first = day.replace(day=1)
        last = (first + dt.timedelta(days=32)).replace(day=1)
    elif period == Period.QUARTER:
        first = day.replace(month=3 * ((day.month - 1) // 3) + 1, day=1)
        last = (first + dt.timedelta(days=95)).replace(day=1)
    else:
        raise ValueError(f"unknown period {period!r}")
    tz = timezone.get_current_timezone()
    return (
        dt.datetime.combine(first, dt.time.min, tzinfo=tz),
        dt.datetime.combine(last, dt.time.min, tzinfo=tz),
    )


@dataclass(frozen=True)
class QuotaUse:
    resource_class: str
    period: str
    period_start: dt.datetime
    period_end: dt.datetime
    quota_hours: Decimal
    used_hours: Decimal

    @property
    def left_hours(self) -> Decimal:
        return max(Decimal(0), self.quota_hours - self.used_hours)

    @property
    def percent(self) -> int:
        if self.quota_hours <= 0:
            return 100 if self.used_hours > 0 else 0
        return min(100, int(self.used_hours * 100 / self.quota_hours))


def used_hours(
    *,
    tenant: Tenant,
    resource_class: str,
    start: dt.datetime,
    end: dt.datetime,
    exclude_booking_id=None,
) -> Decimal:
    """Hours a tenant holds in [start, end): bookings (GPU bookings count GPU-hours) plus jobs.

    Quotas count hours used where known: a booking holds its booked hours until it is closed,
    then counts its charged hours (``usage.BookingUsage``).

    A booking counts for the part of it inside the window. A job that runs inside a booking is
    covered by that booking; other jobs hold GPUs × time limit while live and are charged their
    real GPU-hours once ended.
    """
    bookings = Booking.objects.filter(
        tenant=tenant,
        resource__kind=resource_class,
        status__in=(*HOLDING_STATUSES, BookingStatus.NO_SHOW),
        start__lt=end,
        end__gt=start,
    )
    if exclude_booking_id is not None:
        bookings = bookings.exclude(pk=exclude_booking_id)
    total = Decimal(0)
    # A closed booking counts the hours its usage record charges (used hours; a no-show as the
    # usage policy says), spread over its time; an open one holds its booked hours.
    rows = bookings.values_list("start", "end", "units", "usage__charged_hours")
    for b_start, b_end, units, charged in rows:
        overlap = Decimal((min(b_end, end) - max(b_start, start)).total_seconds())
        if charged is not None:
            total += charged * overlap / Decimal((b_end - b_start).total_seconds())
        else:
            total += Decimal(units) * overlap / Decimal(3600)
    if resource_class == ResourceKind.GPU_NODE:
        jobs = ComputeJob.objects.filter(
            tenant=tenant, booking__isnull=True, created_at__gte=start, created_at__lt=end
        )
        live = jobs.filter(state__in=[JobState.QUEUED, JobState.PENDING, JobState.RUNNING])
        for gpus, minutes in live.values_list("gpus", "time_limit_minutes"):
            total += Decimal(gpus) * Decimal(minutes) / Decimal(60)
        ended = jobs.exclude(state__in=[JobState.QUEUED, JobState.PENDING, JobState.RUNNING])
        total += ended.aggregate(s=Sum("gpu_hours"))["s"] or Decimal(0)
    return total.quantize(Decimal("0.01"))


def quota_uses(*, tenant: Tenant, at: dt.datetime | None = None) -> list[QuotaUse]:
    """Each quota of ``tenant`` with its use in the period containing ``at`` (default: now)."""
    at = at or timezone.now()
    result = []
    for quota in Quota.objects.filter(tenant=tenant).order_by("resource_class", "period"):
        start, end = period_bounds(period=quota.period, at=at)
        result.append(
            QuotaUse(
                resource_class=quota.resource_class,
                period=quota.period,
                period_start=start,
                period_end=end,
                quota_hours=quota.hours,
                used_hours=used_hours(
                    tenant=tenant, resource_class=quota.resource_class, start=start, end=end
                ),
            )
        )
    return result


def booking_duration_expr():
    return ExpressionWrapper(F("end") - F("start"), output_field=DurationField())


def bookings_visible_q(*, user) -> Q:
    """Bookings a user may see in full: their own, and all of tenants they manage."""
    managed = Membership.objects.filter(user=user, role=Membership.Role.MANAGER).values("tenant_id")
    return Q(user=user) | Q(tenant_id__in=managed)


# --------------------------------------------------------------------------------------------
# Bookings, calendars and the catalogue (member UI and API)
# --------------------------------------------------------------------------------------------

_BOOKING_RELATED = ("resource", "pool", "round", "tenant", "recipe", "user")


def bookings_for_user(*, user, statuses=None):
    """The user's own bookings and round requests, newest start first."""
    qs = Booking.objects.filter(user=user).select_related(*_BOOKING_RELATED).defer("round__plan")
    if statuses:
        qs = qs.filter(status__in=statuses)
    return qs.order_by(F("start").desc(nulls_first=True), "-created_at", "-id")


def _require_manager(*, user, tenant: Tenant) -> None:
    """Tenant-wide views are for the tenant's managers (and operators); anyone else: 404."""
    if user.is_superuser:
        return
    if not Membership.objects.filter(
        user=user, tenant=tenant, role=Membership.Role.MANAGER
    ).exists():
        raise NotFound("tenant")


def bookings_for_tenant(*, user, tenant: Tenant, statuses=None):
    """All bookings of ``tenant``, for its managers (and operators); anyone else gets 404."""
    _require_manager(user=user, tenant=tenant)
    qs = (
        Booking.objects.filter(tenant=tenant).select_related(*_BOOKING_RELATED).defer("round__plan")
    )
    if statuses:
        qs = qs.filter(status__in=statuses)
    return qs.order_by(F("start").desc(nulls_first=True), "-created_at", "-id")


def booking_get(*, user, pk) -> Booking:
    """One booking the user may see in full (own, or of a tenant they manage); else 404.

    A malformed or tampered id answers the same 404 as another tenant's booking."""
    q = Q(pk=_plain_pk(pk, what="booking"))
    if not user.is_superuser:
        q &= bookings_visible_q(user=user)
    booking = (
        Booking.objects.filter(q).select_related(*_BOOKING_RELATED).defer("round__plan").first()
    )
    if booking is None:
        raise NotFound("booking")
    return booking


def managed_tenants(*, user) -> list[Tenant]:
    if not user.is_authenticated:
        return []
    return list(
        Tenant.objects.filter(
            memberships__user=user, memberships__role=Membership.Role.MANAGER, active=True
        ).order_by("name")
    )


def resource_get(*, slug: str) -> Resource:
    """A catalogue resource; the catalogue is park-wide, so every member may see every resource."""
    resource = (
        Resource.objects.select_related(
            "location", "required_training", "gpu", "line", "instrument"
        )
        .filter(slug=slug)
        .first()
    )
    if resource is None:
        raise NotFound("resource")
    return resource


def resource_get_brief(*, slug: str) -> Resource:
    """``resource_get`` without the kind's attributes and related rows (a lean query for hot
    paths such as availability, which need only the id, kind and capacity)."""
    resource = Resource.objects.only("id", "slug", "kind", "capacity").filter(slug=slug).first()
    if resource is None:
        raise NotFound("resource")
    return resource


@dataclass(frozen=True)
class CalendarBlock:
    """One block in a day column: ``kind`` is own / busy / maintenance / closed."""

    kind: str
    start: dt.datetime
    end: dt.datetime
    title: str = ""
    units: int = 0
    booking_id: int | None = None
    top: float = 0.0  # % of the day column
    height: float = 0.0
    left: float = 0.0  # % of the column width: overlapping bookings of a shared GPU node
    width: float = 100.0  # sit side by side in lanes


@dataclass(frozen=True)
class CalendarDay:
    date: dt.date
    blocks: list[CalendarBlock]


@dataclass(frozen=True)
class ResourceWeek:
    resource: Resource
    week_start: dt.date
    days: list[CalendarDay]
    hours: list[int]

    @property
    def previous_week(self) -> dt.date:
        return self.week_start - dt.timedelta(days=7)

    @property
    def next_week(self) -> dt.date:
        return self.week_start + dt.timedelta(days=7)

    @property
    def week_end(self) -> dt.date:
        return self.week_start + dt.timedelta(days=6)


def week_monday(day: dt.date) -> dt.date:
    return day - dt.timedelta(days=day.weekday())


def _day_blocks(day_start, day_end, items) -> list[CalendarBlock]:
    total = (day_end - day_start).total_seconds()
    clipped = []
    for kind, start, end, title, units, booking_id in items:
        a, b = max(start, day_start), min(end, day_end)
        if a < b:
            clipped.append((kind, a, b, title, units, booking_id))
    # Bookings that overlap (only possible on a shared GPU node) get a lane each.
    lane_ends: list = []
    lanes: dict[int, int] = {}
    for index, (kind, a, b, *_rest) in sorted(
        enumerate(clipped), key=lambda item: (item[1][1], item[1][2])
    ):
        if kind not in ("own", "busy"):
            continue
        lane = next((i for i, end in enumerate(lane_ends) if end <= a), len(lane_ends))
        if lane == len(lane_ends):
            lane_ends.append(b)
        else:
            lane_ends[lane] = b
        lanes[index] = lane
    width = 100 / max(1, len(lane_ends))
    blocks = []
    for index, (kind, a, b, title, units, booking_id) in enumerate(clipped):
        lane = lanes.get(index)
        blocks.append(
            CalendarBlock(
                kind=kind,
                start=a,
                end=b,
                title=title,
                units=units,
                booking_id=booking_id,
                top=round((a - day_start).total_seconds() * 100 / total, 3),
                height=round((b - a).total_seconds() * 100 / total, 3),
                left=round(lane * width, 3) if lane is not None else 0.0,
                width=round(width, 3) if lane is not None else 100.0,
            )
        )
    return blocks


def resource_week(*, user, resource: Resource, week_start: dt.date) -> ResourceWeek:
    """A week of ``resource`` for ``user``: their own (and managed tenants') bookings with
    titles, everyone else's as anonymous "busy" (no title, user or tenant), maintenance windows
    and closed hours. Always three SQL queries, however many bookings the week holds."""
    from booking.services.bookings import hours_purpose, open_intervals
    from resources.models import MaintenanceWindow, WeeklyHours

    tz = timezone.get_current_timezone()
    week_start = week_monday(week_start)
    start = dt.datetime.combine(week_start, dt.time.min, tzinfo=tz)
    end = dt.datetime.combine(week_start + dt.timedelta(days=7), dt.time.min, tzinfo=tz)

    mine = bookings_visible_q(user=user) if user.is_authenticated else Q(pk__in=[])
    rows = (
        Booking.objects.filter(
            resource=resource, status__in=HOLDING_STATUSES, start__lt=end, end__gt=start
        )
        .annotate(mine=Case(When(mine, then=Value(True)), default=Value(False)))
        .order_by("start", "id")
        .values_list("id", "start", "end", "units", "title", "mine")
    )
    items = []
    for pk, b_start, b_end, units, title, is_mine in rows:
        if is_mine:
            items.append(("own", b_start, b_end, title, units, pk))
        else:
            items.append(("busy", b_start, b_end, "", units, None))
    for m_start, m_end, reason in MaintenanceWindow.objects.filter(
        resource=resource, start__lt=end, end__gt=start
    ).values_list("start", "end", "reason"):
        items.append(("maintenance", m_start, m_end, reason, 0, None))
    weekly = list(
        WeeklyHours.objects.filter(resource=resource, purpose=hours_purpose(resource))
        .order_by()  # no default ordering: it would join the resource table for nothing
        .values_list("weekday", "opens", "closes")
    )
    opened = open_intervals(weekly=weekly, start=start, end=end)
    if opened is not None:
        # Closed hours are the gaps between open intervals.
        cursor = start
        for a, b in opened:
            if a > cursor:
                items.append(("closed", cursor, a, "", 0, None))
            cursor = max(cursor, b)
        if cursor < end:
            items.append(("closed", cursor, end, "", 0, None))
    # Closed first so bookings and maintenance draw over them.
    order = {"closed": 0, "maintenance": 1, "busy": 2, "own": 3}
    items.sort(key=lambda item: (order[item[0]], item[1]))
    days = []
    for i in range(7):
        day = week_start + dt.timedelta(days=i)
        day_start = dt.datetime.combine(day, dt.time.min, tzinfo=tz)
        day_end = dt.datetime.combine(day + dt.timedelta(days=1), dt.time.min, tzinfo=tz)
        days.append(CalendarDay(date=day, blocks=_day_blocks(day_start, day_end, items)))
    return ResourceWeek(
        resource=resource, week_start=week_start, days=days, hours=list(range(0, 24, 2))
    )


@dataclass(frozen=True)
class FreeSlot:
    resource_id: int
    start: dt.datetime
    end: dt.datetime
    free_units: int


def availability(
    *, resource: Resource, start: dt.datetime, end: dt.datetime, units: int = 1
) -> list[FreeSlot]:
    """Free intervals of ``resource`` in [start, end) where ``units`` more can be booked:
    inside opening hours / shifts, outside maintenance, with capacity left. ``free_units`` is the
    least capacity left during the interval. Three SQL queries. Booking rules such as notice or
    length are not applied here (``booking_check`` does that for a concrete slot)."""
    from booking.services.bookings import hours_purpose, open_intervals
    from resources.models import MaintenanceWindow, WeeklyHours

    if end <= start or units < 1 or units > resource.capacity:
        return []
    weekly = list(
        WeeklyHours.objects.filter(resource=resource, purpose=hours_purpose(resource))
        .order_by()
        .values_list("weekday", "opens", "closes")
    )
    opened = open_intervals(weekly=weekly, start=start, end=end)
    if opened is None:
        opened = [(start, end)]
    opened = [(max(a, start), min(b, end)) for a, b in opened]
    blocked = list(
        MaintenanceWindow.objects.filter(resource=resource, start__lt=end, end__gt=start)
        .order_by()
        .values_list("start", "end")
    )
    booked = list(
        Booking.objects.filter(
            resource=resource, status__in=HOLDING_STATUSES, start__lt=end, end__gt=start
        )
        .order_by()
        .values_list("start", "end", "units")
    )
    # Sweep over every instant where something changes; a segment is free when it is open,
    # not under maintenance and has enough capacity left.
    points = {start, end}
    for a, b in opened + blocked:
        points.update((a, b))
    for a, b, _u in booked:
        points.update((a, b))
    points = sorted(p for p in points if start <= p <= end)
    slots: list[FreeSlot] = []
    for a, b in zip(points, points[1:], strict=False):
        if not any(o_a <= a and b <= o_b for o_a, o_b in opened):
            continue
        if any(m_a < b and m_b > a for m_a, m_b in blocked):
            continue
        used = sum(u for b_a, b_b, u in booked if b_a < b and b_b > a)
        left = resource.capacity - used
        if left < units:
            continue
        if slots and slots[-1].end == a:
            prev = slots[-1]
            slots[-1] = FreeSlot(resource.pk, prev.start, b, min(prev.free_units, left))
        else:
            slots.append(FreeSlot(resource.pk, a, b, left))
    return slots


def pool_availability(
    *, pool, start: dt.datetime, end: dt.datetime, units: int = 1
) -> dict[int, list[FreeSlot]]:
    """``availability`` of every active member of a pool, keyed by resource id."""
    return {
        member.pk: availability(resource=member, start=start, end=end, units=units)
        for member in pool.members.filter(active=True).order_by("name")
    }


def catalogue(
    *,
    user,
    kind: str | None = None,
    location=None,
    gpu_model: str | None = None,
    free_from: dt.datetime | None = None,
    free_to: dt.datetime | None = None,
    trained_only: bool = False,
):
    """Bookable resources with filters: ``kind``; ``location`` (a Location or id, matching it and
    everything inside it); ``gpu_model`` (case-insensitive); free for the whole window
    [free_from, free_to) (open or staffed then, no maintenance, capacity-1 resources unbooked,
    GPU nodes with a GPU left); ``trained_only`` keeps resources the user may use today (no
    training needed, or a valid training held). Returns an unevaluated queryset (one SQL query;
    the window filter reads opening hours with one more)."""
    from booking.services.bookings import hours_purpose, open_intervals
    from resources.models import MaintenanceWindow, TrainingRecord, WeeklyHours

    qs = Resource.objects.filter(active=True).select_related(
        "location", "location__parent", "required_training", "gpu"
    )
    if kind:
        qs = qs.filter(kind=kind)
    if location:
        loc = getattr(location, "pk", location)
        qs = qs.filter(
            Q(location_id=loc)
            | Q(location__parent_id=loc)
            | Q(location__parent__parent_id=loc)
            | Q(location__parent__parent__parent_id=loc)
        )
    if gpu_model:
        qs = qs.filter(gpu__gpu_model__iexact=gpu_model)
    if free_from and free_to and free_to > free_from:
        overlapping = Booking.objects.filter(
            resource=OuterRef("pk"),
            status__in=HOLDING_STATUSES,
            start__lt=free_to,
            end__gt=free_from,
        )
        held = (
            overlapping.order_by()
            .values("resource")
            .annotate(total=Sum("units"))
            .values("total")[:1]
        )
        qs = (
            qs.annotate(held_units=Coalesce(Subquery(held), Value(0)))
            .filter(held_units__lt=F("capacity"))
            .exclude(
                Exists(
                    MaintenanceWindow.objects.filter(
                        resource=OuterRef("pk"), start__lt=free_to, end__gt=free_from
                    )
                )
            )
        )
        # Opening hours and shifts are weekly patterns: checked here for the candidates only.
        weekly: dict[tuple[int, str], list] = {}
        for rid, purpose, day, opens, closes in (
            WeeklyHours.objects.filter(resource__in=qs.values("pk"))
            .order_by()
            .values_list("resource_id", "purpose", "weekday", "opens", "closes")
        ):
            weekly.setdefault((rid, purpose), []).append((day, opens, closes))
        closed = []
        for rid, kind in qs.values_list("pk", "kind"):
            purpose = hours_purpose(Resource(kind=kind))
            opened = open_intervals(
                weekly=weekly.get((rid, purpose), []), start=free_from, end=free_to
            )
            if opened is not None and not any(a <= free_from and free_to <= b for a, b in opened):
                closed.append(rid)
        if closed:
            qs = qs.exclude(pk__in=closed)
    if trained_only and user.is_authenticated:
        today = timezone.localdate()
        qs = qs.filter(
            Q(required_training__isnull=True)
            | Exists(
                TrainingRecord.objects.filter(
                    user=user,
                    training=OuterRef("required_training"),
                    granted_on__lte=today,
                    expires_on__gt=today,
                )
            )
        )
    return qs.order_by("kind", "name")


def gpu_models() -> list[str]:
    from resources.models import GpuNode

    return list(
        GpuNode.objects.order_by("gpu_model").values_list("gpu_model", flat=True).distinct()
    )


# --------------------------------------------------------------------------------------------
# Compute jobs
# --------------------------------------------------------------------------------------------

_JOB_RELATED = ("tenant", "user", "pool", "booking")
# The most of a job's standard output shown or returned: its last 64 KiB.
JOB_OUTPUT_LIMIT = 64 * 1024
_MAX_PK = 2**63 - 1


def jobs_for_user(*, user):
    """The user's own compute jobs, newest first."""
    return (
        ComputeJob.objects.filter(user=user)
        .select_related(*_JOB_RELATED)
        .order_by("-created_at", "-id")
    )


def jobs_for_tenant(*, user, tenant: Tenant):
    """All compute jobs of ``tenant``, newest first, for its managers (and operators); anyone
    else gets 404."""
    _require_manager(user=user, tenant=tenant)
    return (
        ComputeJob.objects.filter(tenant=tenant)
        .select_related(*_JOB_RELATED)
        .order_by("-created_at", "-id")
    )


def _plain_pk(pk, *, what: str) -> int:
    """An id from a URL or a caller: a positive integer in the database's range, written in
    plain digits (``int()`` alone would also take " 7" or "1_0"); else 404."""
    if isinstance(pk, str):
        if not pk.isascii() or not pk.isdigit():
            raise NotFound(what)
    try:
        value = int(pk)
    except (TypeError, ValueError):
        raise NotFound(what) from None
    if not 1 <= value <= _MAX_PK:
        raise NotFound(what)
    return value


def _job_pk(pk) -> int:
    return _plain_pk(pk, what="job")


def job_get(*, user, pk) -> ComputeJob:
    """One job the user may see: their own, or any of a tenant they manage (operators: all).
    Anything else, and a malformed id, answers 404."""
    q = Q(pk=_job_pk(pk))
    if not user.is_superuser:
        managed = Membership.objects.filter(user=user, role=Membership.Role.MANAGER).values(
            "tenant_id"
        )
        q &= Q(user=user) | Q(tenant_id__in=managed)
    job = ComputeJob.objects.filter(q).select_related(*_JOB_RELATED).first()
    if job is None:
        raise NotFound("job")
    return job


@dataclass(frozen=True)
class JobOutput:
    """The tail of a job's standard output: ``text`` is None when this host cannot read the
    file; ``truncated`` says earlier output was left out."""

    text: str | None
    truncated: bool = False

    @property
    def readable(self) -> bool:
        return self.text is not None


def job_output_tail(*, job: ComputeJob, limit: int = JOB_OUTPUT_LIMIT) -> JobOutput:
    """The last ``limit`` bytes of ``job``'s standard output (the caller fetched the job through
    ``job_get``, which decides who may see it).

    Only a regular file with one link is read, and never through a symbolic link: the job's
    script writes into the output directory and must not be able to point the web server at
    another file it can read (keys, the database)."""
    from booking.services.jobs import job_output_path

    path = job_output_path(job)
    if path is None:
        return JobOutput(text=None)
    flags = os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0)
    try:
        fd = os.open(path, flags)
    except OSError:
        return JobOutput(text=None)
    with os.fdopen(fd, "rb") as handle:
        try:
            info = os.fstat(handle.fileno())
            if not stat.S_ISREG(info.st_mode) or info.st_nlink != 1:
                return JobOutput(text=None)
            size = info.st_size
            handle.seek(max(0, size - limit))
            data = handle.read(limit)
        except OSError:
            return JobOutput(text=None)
    truncated = size > limit
    if truncated:
        # The cut may fall inside a UTF-8 character: start at the next whole one.
        skip = 0
        while skip < min(3, len(data)) and data[skip] & 0xC0 == 0x80:
            skip += 1
        data = data[skip:]
    return JobOutput(text=data.decode("utf-8", errors="replace"), truncated=truncated)


def job_output(*, user, pk, limit: int = JOB_OUTPUT_LIMIT) -> str | None:
    """The tail (``limit`` bytes) of a visible job's standard output, when this host can read
    the file (the job's working directory is shared with the cluster); else None."""
    return job_output_tail(job=job_get(user=user, pk=pk), limit=limit).text
