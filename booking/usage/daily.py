"""The daily usage tables the reports read: per resource and day, per tenant and day, and per
tenant member and day, the measured bookings starting that (local) day — how many, their booked, used and no-show
hours. Kept exact in two steps:

1. **Change capture, in the writer's transaction.** Database triggers (migration
   ``0002_issue13_daily_usage``) write a ``UsageChange`` row for every change to a booking's day
   cell (its status, start, end, units, resource, tenant or user; before and after) and for every
   change to a usage record. No writer can skip it: ORM saves, queryset updates, bulk inserts.
2. **Fold, by a task.** ``usage_fold`` takes the journal rows in id order (the watermark is the
   highest id taken), recomputes each named cell from the booking rows — a recomputation, never
   an increment, so folding twice or late is harmless — and deletes exactly the rows it took, in
   one transaction, under a lease so two folds never interleave. A journal row committed late
   (lower id than one already folded) is simply folded by the next run. The minute task folds;
   the reports page folds a short journal itself before reading, so what it shows is exact.

``usage_rebuild`` (``manage.py usage_rebuild_daily``) recomputes every cell from the rows.
A tenant's cell of a day is recomputed whenever one of its members' cells is.

Capacity is not stored: it is computed per resource and day from the weekly opening hours
(shifts for lines; always open when none are set) times the units, minus the maintenance
windows inside those hours — a few hundred rows at most, and always current.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from decimal import Decimal

from django.db import transaction
from django.db.models import Count, F, Q, Sum
from django.db.models.functions import Coalesce, TruncDate
from django.utils import timezone

from booking.bookings.models import Booking, BookingStatus
from booking.leases import lease_acquire, lease_release
from booking.usage.models import ResourceDayUsage, TenantDayTotal, TenantDayUsage, UsageChange
from resources.models import MaintenanceWindow, Resource, ResourceKind, WeeklyHours

MEASURED = (
    BookingStatus.CONFIRMED,
    BookingStatus.IN_USE,
    BookingStatus.COMPLETED,
    BookingStatus.NO_SHOW,
)
FOLD_LEASE = "usage-daily-fold"
FIGURES = ("bookings", "no_shows", "booked_seconds", "no_show_seconds", "used_hours")


def _local_day(value: dt.datetime) -> dt.date:
    return timezone.localtime(value).date()


def _day_start(day: dt.date) -> dt.datetime:
    return dt.datetime.combine(day, dt.time.min, tzinfo=timezone.get_current_timezone())


def _sums(bookings, dims: tuple[str, ...]) -> dict[tuple, dict]:
    """Figures per (dims…, local day) of the measured ``bookings``, summed in the database."""
    tz = timezone.get_current_timezone()
    rows = (
        bookings.filter(status__in=MEASURED, start__isnull=False, resource__isnull=False)
        .annotate(local_day=TruncDate("start", tzinfo=tz))
        .values(*dims, "local_day", "status", "units")
        .annotate(
            n=Count("pk"),
            booked=Sum(Coalesce("usage__booked_end", "end") - F("start")),
            used=Sum("usage__used_hours"),
        )
        .order_by()
    )
    out: dict[tuple, dict] = {}
    for r in rows:
        key = (*(r[d] for d in dims), r["local_day"])
        cell = out.setdefault(key, dict.fromkeys(FIGURES, 0))
        seconds = r["units"] * round((r["booked"] or dt.timedelta(0)).total_seconds())
        cell["bookings"] += r["n"]
        cell["booked_seconds"] += seconds
        if r["status"] == BookingStatus.NO_SHOW:
            cell["no_shows"] += r["n"]
            cell["no_show_seconds"] += seconds
        elif r["used"] is not None:
            cell["used_hours"] += Decimal(r["used"])
    return out


def _write(model, dims: tuple[str, ...], cells: set[tuple], sums: dict[tuple, dict]) -> None:
    """Replace ``cells`` (dims…, day) of ``model`` by ``sums`` (a missing sum: no row)."""
    by_day: dict[dt.date, list[tuple]] = defaultdict(list)
    for cell in cells:
        by_day[cell[-1]].append(cell[:-1])
    for day, keys in by_day.items():
        q = Q()
        for key in keys:
            q |= Q(**dict(zip(dims, key, strict=True)))
        model.objects.filter(q, day=day).delete()
    model.objects.bulk_create(
        [
            model(day=cell[-1], **dict(zip(dims, cell[:-1], strict=True)), **sums[cell])
            for cell in cells
            if cell in sums
        ],
        batch_size=2000,
    )


RESOURCE_DIMS = ("resource_id",)
MEMBER_DIMS = ("tenant_id", "user_id")
TENANT_DIMS = ("tenant_id",)
TABLES = (
    (ResourceDayUsage, RESOURCE_DIMS),
    (TenantDayUsage, MEMBER_DIMS),
    (TenantDayTotal, TENANT_DIMS),
)


def _recompute(resource_cells: set[tuple], member_cells: set[tuple]) -> None:
    tenant_cells = {(tenant_id, day) for tenant_id, _user, day in member_cells}
    for (model, dims), cells in zip(
        TABLES, (resource_cells, member_cells, tenant_cells), strict=True
    ):
        if not cells:
            continue
        by_day: dict[dt.date, set] = defaultdict(set)
        for cell in cells:
            by_day[cell[-1]].add(cell[0])
        sums: dict[tuple, dict] = {}
        for day, firsts in by_day.items():
            rows = Booking.objects.filter(
                start__gte=_day_start(day),
                start__lt=_day_start(day + dt.timedelta(days=1)),
                **{f"{dims[0]}__in": firsts},
            )
            sums.update(_sums(rows, dims))
        _write(model, dims, cells, sums)


def usage_fold(*, limit: int = 20000) -> int:
    """Fold up to ``limit`` journal rows into the daily tables; returns how many were folded, or
    -1 when another fold holds the lease (it will fold these too)."""
    holder = lease_acquire(name=FOLD_LEASE, seconds=300)
    if holder is None:
        return -1
    try:
        with transaction.atomic():
            changes = list(
                UsageChange.objects.order_by("pk").values_list(
                    "pk", "booking_id", "resource_id", "tenant_id", "user_id", "start"
                )[:limit]
            )
            if not changes:
                return 0
            by_booking = {c[1] for c in changes if c[1] is not None}
            rows = [c[2:] for c in changes if c[1] is None]
            rows += list(
                Booking.objects.filter(pk__in=by_booking, start__isnull=False).values_list(
                    "resource_id", "tenant_id", "user_id", "start"
                )
            )
            resource_cells, member_cells = set(), set()
            for resource_id, tenant_id, user_id, start in rows:
                day = _local_day(start)
                if resource_id is not None:
                    resource_cells.add((resource_id, day))
                    member_cells.add((tenant_id, user_id, day))
            _recompute(resource_cells, member_cells)
            UsageChange.objects.filter(pk__in=[c[0] for c in changes]).delete()
        return len(changes)
    finally:
        lease_release(name=FOLD_LEASE, holder=holder)


def usage_pending() -> int:
    return UsageChange.objects.count()


def usage_rebuild() -> dict[str, int]:
    """Recompute both daily tables from every booking (the journal is emptied with it)."""
    holder = lease_acquire(name=FOLD_LEASE, seconds=3600)
    if holder is None:
        raise RuntimeError("a fold of the daily usage tables is running; try again shortly")
    try:
        with transaction.atomic():
            UsageChange.objects.all().delete()
            out = {}
            for model, dims in TABLES:
                model.objects.all().delete()
                sums = _sums(Booking.objects.all(), dims)
                model.objects.bulk_create(
                    [
                        model(day=k[-1], **dict(zip(dims, k[:-1], strict=True)), **v)
                        for k, v in sums.items()
                    ],
                    batch_size=5000,
                )
                out[model._meta.model_name] = len(sums)
        return out
    finally:
        lease_release(name=FOLD_LEASE, holder=holder)


# ---- capacity ---------------------------------------------------------------------------------


def _open_intervals() -> dict[int, dict[int, list[tuple[int, int]]]]:
    """Per resource with hours set: weekday → open intervals in minutes of the day (shifts for
    lines, opening hours otherwise)."""
    kinds = dict(Resource.objects.values_list("pk", "kind"))
    out: dict[int, dict[int, list[tuple[int, int]]]] = defaultdict(lambda: defaultdict(list))
    for resource_id, purpose, weekday, opens, closes in WeeklyHours.objects.values_list(
        "resource_id", "purpose", "weekday", "opens", "closes"
    ):
        wanted = (
            WeeklyHours.Purpose.SHIFT
            if kinds.get(resource_id) == ResourceKind.PILOT_LINE
            else WeeklyHours.Purpose.OPENING
        )
        if purpose != wanted:
            continue
        end = 24 * 60 if closes >= dt.time(23, 59) else closes.hour * 60 + closes.minute
        begin = opens.hour * 60 + opens.minute
        if end > begin:
            out[resource_id][weekday].append((begin, end))
    return out


ALWAYS_OPEN = [(0, 24 * 60)]


def _weekday_of(day: dt.date) -> int:
    """The ``Weekday`` value of ``day`` (0 = Monday, as ``WeeklyHours`` stores it)."""
    return day.weekday()


def _merged(windows) -> list[tuple]:
    """Overlapping maintenance windows of a resource as one (sorted by resource, start)."""
    out: list[list] = []
    for pk, lo, hi in windows:
        if out and out[-1][0] == pk and lo <= out[-1][2]:
            out[-1][2] = max(out[-1][2], hi)
        else:
            out.append([pk, lo, hi])
    return [tuple(w) for w in out]


def capacity_hours(
    *, start: dt.date, end: dt.date, spans: list[tuple[dt.date, dt.date, dt.date]]
) -> dict[tuple[int, dt.date], float]:
    """Capacity-hours per (resource, span label) of every active resource: open hours of each
    day in the span times the units, minus maintenance inside the open hours."""
    intervals = _open_intervals()
    resources = list(Resource.objects.filter(active=True).values_list("pk", "capacity"))
    out: dict[tuple[int, dt.date], float] = {}
    for label, first, last in spans:
        counts = [0] * 7
        day = first
        while day < last and day.weekday() != 0:
            counts[_weekday_of(day)] += 1
            day += dt.timedelta(days=1)
        weeks, rest = divmod((last - day).days, 7) if day < last else (0, 0)
        counts = [c + weeks for c in counts]
        for i in range(rest):
            counts[i] += 1
        for pk, units in resources:
            per_day = intervals.get(pk)
            minutes = sum(
                counts[wd]
                * sum(b - a for a, b in (per_day.get(wd, []) if per_day else ALWAYS_OPEN))
                for wd in range(7)
            )
            out[(pk, label)] = units * minutes / 60
    # Maintenance inside open hours, day by day (windows are few).
    labels = [(first, last, label) for label, first, last in spans]
    active = dict(resources)
    windows = MaintenanceWindow.objects.filter(
        resource_id__in=active, start__lt=_day_start(end), end__gt=_day_start(start)
    ).order_by("resource_id", "start")
    for pk, m_start, m_end in _merged(windows.values_list("resource_id", "start", "end")):
        day = max(_local_day(m_start), start)
        while day < end and _day_start(day) < m_end:
            per_day = intervals.get(pk)
            opened = per_day.get(_weekday_of(day), []) if per_day else ALWAYS_OPEN
            lost = 0.0
            for a, b in opened:
                lo = max(_day_start(day) + dt.timedelta(minutes=a), m_start)
                hi = min(_day_start(day) + dt.timedelta(minutes=b), m_end)
                if hi > lo:
                    lost += (hi - lo).total_seconds() / 3600
            if lost:
                label = next(lb for first, last, lb in labels if first <= day < last)
                out[(pk, label)] -= active[pk] * lost
            day += dt.timedelta(days=1)
    return out


# The reports page folds a journal this short itself (tens of milliseconds) before reading; a
# longer one (a burst of changes) is left to the minute task and the page says so.
INLINE_FOLD_LIMIT = 2000


def usage_refresh() -> int:
    """Bring the daily tables up to date if the journal is short; returns the changes still
    pending afterwards (0: the tables are exact)."""
    # Bounded: a long journal is only counted when it is too long to fold here.
    pending = len(
        UsageChange.objects.order_by("pk").values_list("pk", flat=True)[: INLINE_FOLD_LIMIT + 1]
    )
    if pending == 0:
        return 0
    if pending > INLINE_FOLD_LIMIT:
        return usage_pending()
    usage_fold(limit=INLINE_FOLD_LIMIT)
    return usage_pending()
