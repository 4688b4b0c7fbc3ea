"""Operator reports: utilisation (capacity, booked, used, no-show hours) per week or month by
resource, class, tenant, tier or home park; each round's fairness figures; waitlist waiting
times; the funder report per tenant tier. Reads only; every figure is a sum over rows the
report also lists, so a test can recompute it.

Utilisation and the funder report's bookings are read from the daily usage tables
(``booking.usage.daily``), which the reports page brings up to date before it reads. Capacity is
the resource's open hours on each day of the bucket inside the report's range (its weekly opening
hours or shifts; always open when none are set) times its units (GPUs on a GPU node), minus the
maintenance windows inside those hours.
"""

from __future__ import annotations

import datetime as dt
import statistics
from collections import defaultdict
from dataclasses import dataclass, field

from django.db.models import Count, Sum
from django.db.models.functions import TruncMonth, TruncWeek

from booking.bookings.models import Booking, BookingEvent, BookingStatus
from booking.compute.models import ComputeJob
from booking.rounds.models import AllocationRound
from booking.tenancy.models import Tenant, Tier
from booking.usage import daily
from booking.usage.models import ResourceDayUsage, TenantDayTotal, TenantDayUsage
from booking.usage.selectors import local_day_start
from resources.models import Park, Resource, ResourceKind

GROUPS = ("resource", "class", "tenant", "tier", "park")
_FIGURE_SUMS = {
    "n": Sum("bookings"),
    "no_shows_n": Sum("no_shows"),
    "booked_s": Sum("booked_seconds"),
    "no_show_s": Sum("no_show_seconds"),
    "used": Sum("used_hours"),
}
BUCKETS = ("week", "month")


def bucket_start(day: dt.date, bucket: str) -> dt.date:
    if bucket == "week":
        return day - dt.timedelta(days=day.weekday())
    return day.replace(day=1)


def _next_bucket(day: dt.date, bucket: str) -> dt.date:
    if bucket == "week":
        return day + dt.timedelta(days=7)
    return (day + dt.timedelta(days=32)).replace(day=1)


def buckets(start: dt.date, end: dt.date, bucket: str) -> list[tuple[dt.date, dt.date, dt.date]]:
    """(bucket label, first day inside the range, day after its last day inside the range)."""
    out = []
    b = bucket_start(start, bucket)
    while b < end:
        nxt = _next_bucket(b, bucket)
        out.append((b, max(b, start), min(nxt, end)))
        b = nxt
    return out


@dataclass
class UtilisationRow:
    bucket: dt.date
    group: str
    label: str
    capacity_hours: float | None = None
    booked_hours: float = 0.0
    used_hours: float = 0.0
    no_show_hours: float = 0.0
    bookings: int = 0
    no_shows: int = 0

    @property
    def utilisation(self) -> float | None:
        if not self.capacity_hours:
            return None
        return self.used_hours / self.capacity_hours

    @property
    def booked_share(self) -> float | None:
        if not self.capacity_hours:
            return None
        return self.booked_hours / self.capacity_hours

    @property
    def no_show_rate(self) -> float | None:
        return self.no_shows / self.bookings if self.bookings else None


def _key(group: str, row: dict) -> tuple[str, str]:
    if group == "resource":
        return row["resource__slug"], row["resource__name"]
    if group == "class":
        return row["resource__kind"], str(ResourceKind(row["resource__kind"]).label)
    if group == "tenant":
        return row["tenant__slug"], row["tenant__name"]
    if group == "tier":
        return row["tenant__tier"], row["tenant__tier"]
    return row["tenant__home_park"], row["tenant__home_park"]


def utilisation(
    *, start: dt.date, end: dt.date, bucket: str = "week", group: str = "class"
) -> list[UtilisationRow]:
    """One row per bucket and group over bookings starting in [start, end) (local days).

    Booked hours are as booked (before an early check-out), used hours from the usage records
    of closed bookings, no-show hours the booked hours of no-shows. Capacity is given for the
    resource and class groups only (a tenant has no capacity of its own).
    """
    spans = buckets(start, end, bucket)
    rows: dict[tuple, UtilisationRow] = {}
    labels = {"tier": dict(Tier.choices), "park": dict(Park.choices)}

    def row_for(b: dt.date, key: str, label: str) -> UtilisationRow:
        r = rows.get((b, key))
        if r is None:
            r = rows[(b, key)] = UtilisationRow(b, key, str(labels.get(group, {}).get(key, label)))
        return r

    resource_groups = group in ("resource", "class")
    if resource_groups:
        capacity = daily.capacity_hours(start=start, end=end, spans=spans)
        for res in Resource.objects.filter(active=True).values("pk", "slug", "name", "kind"):
            key, label = _key(
                group,
                {
                    "resource__slug": res["slug"],
                    "resource__name": res["name"],
                    "resource__kind": res["kind"],
                },
            )
            for b, _first, _last in spans:
                r = row_for(b, key, label)
                r.capacity_hours = (r.capacity_hours or 0.0) + capacity[(res["pk"], b)]

    # Summed in the database from the daily table, grouped by period and resource or tenant
    # (no join: the few resources' and tenants' names are looked up here).
    if resource_groups:
        model, dim = ResourceDayUsage, "resource_id"
        names = Resource.objects.values("pk", "slug", "name", "kind")
        info = {
            r["pk"]: {
                "resource__slug": r["slug"],
                "resource__name": r["name"],
                "resource__kind": r["kind"],
            }
            for r in names
        }
    else:
        model, dim = TenantDayTotal, "tenant_id"
        names = Tenant.objects.values("pk", "slug", "name", "tier", "home_park")
        info = {
            t["pk"]: {
                "tenant__slug": t["slug"],
                "tenant__name": t["name"],
                "tenant__tier": t["tier"],
                "tenant__home_park": t["home_park"],
            }
            for t in names
        }
    trunc = TruncWeek if bucket == "week" else TruncMonth
    sums = (
        model.objects.filter(day__gte=start, day__lt=end)
        .annotate(period=trunc("day"))
        .values("period", dim)
        .annotate(**_FIGURE_SUMS)
        .order_by()
    )
    for b in sums:
        key, label = _key(group, info[b[dim]])
        period = b["period"]
        day = period.date() if isinstance(period, dt.datetime) else period
        r = row_for(bucket_start(day, bucket), key, label)
        r.bookings += b["n"]
        r.no_shows += b["no_shows_n"]
        r.booked_hours += b["booked_s"] / 3600
        r.no_show_hours += b["no_show_s"] / 3600
        r.used_hours += float(b["used"] or 0)
    return sorted(rows.values(), key=lambda r: (r.bucket, r.label))


@dataclass
class RoundRow:
    round_id: int
    name: str
    period_start: dt.datetime
    status: str
    floor: float | None
    jain: float | None
    requests: int | None
    granted: int | None


def round_fairness(*, start: dt.date, end: dt.date) -> list[RoundRow]:
    """Each planned round whose period starts in [start, end): its fairness floor and Jain's
    index as the planner reported them."""
    rounds = AllocationRound.objects.filter(
        period_start__gte=local_day_start(start),
        period_start__lt=local_day_start(end),
        figures__isnull=False,
    ).order_by("period_start", "pk")
    out = []
    for rnd in rounds.only("pk", "name", "period_start", "status", "figures"):
        f = rnd.figures or {}
        out.append(
            RoundRow(
                rnd.pk,
                rnd.name,
                rnd.period_start,
                rnd.status,
                f.get("floor"),
                f.get("jain"),
                f.get("requests"),
                f.get("granted"),
            )
        )
    return out


@dataclass
class WaitRow:
    round_id: int
    name: str
    promoted: int = 0
    still_waiting: int = 0
    waits_hours: list[float] = field(default_factory=list)

    @property
    def median_wait_hours(self) -> float | None:
        return statistics.median(self.waits_hours) if self.waits_hours else None

    @property
    def mean_wait_hours(self) -> float | None:
        return sum(self.waits_hours) / len(self.waits_hours) if self.waits_hours else None


def waitlist_waits(*, start: dt.date, end: dt.date) -> list[WaitRow]:
    """Per round (period starting in [start, end)): requests promoted from the waitlist and how
    long each waited (from its event to ``waitlisted`` to its event to ``confirmed``), and the
    requests still waiting."""
    rounds = {
        r.pk: WaitRow(r.pk, r.name)
        for r in AllocationRound.objects.filter(
            period_start__gte=local_day_start(start), period_start__lt=local_day_start(end)
        ).only("pk", "name")
    }
    if not rounds:
        return []
    waited_since: dict[int, dt.datetime] = {}
    events = (
        BookingEvent.objects.filter(booking__round_id__in=rounds)
        .order_by("booking_id", "at", "pk")
        .values_list("booking_id", "booking__round_id", "to_status", "at")
    )
    for booking_id, round_id, to_status, at in events:
        if to_status == BookingStatus.WAITLISTED:
            waited_since[booking_id] = at
        elif to_status == BookingStatus.CONFIRMED and booking_id in waited_since:
            since = waited_since.pop(booking_id)
            rounds[round_id].promoted += 1
            rounds[round_id].waits_hours.append((at - since).total_seconds() / 3600)
        elif booking_id in waited_since:
            waited_since.pop(booking_id)  # refused or cancelled while waiting
    for row in Booking.objects.filter(
        round_id__in=rounds, status=BookingStatus.WAITLISTED
    ).values_list("round_id", flat=True):
        rounds[row].still_waiting += 1
    return [r for r in rounds.values()]


@dataclass
class FunderRow:
    tier: str
    label: str
    tenants: int = 0
    users: int = 0
    bookings: int = 0
    booked_hours: float = 0.0
    used_hours: float = 0.0
    jobs: int = 0
    job_gpu_hours: float = 0.0


def funder_report(*, start: dt.date, end: dt.date) -> list[FunderRow]:
    """Per tenant tier, over [start, end): tenants and users active (a booking or a job), their
    bookings with booked and used hours, and compute jobs with their GPU-hours."""
    rows = {tier: FunderRow(tier, str(label)) for tier, label in Tier.choices}
    tenants: dict[str, set] = defaultdict(set)
    users: dict[str, set] = defaultdict(set)
    lo, hi = local_day_start(start), local_day_start(end)
    tier_of = dict(Tenant.objects.values_list("pk", "tier"))
    totals = TenantDayTotal.objects.filter(day__gte=start, day__lt=end)
    for b in totals.values("tenant_id").annotate(**_FIGURE_SUMS).order_by():
        r = rows[tier_of[b["tenant_id"]]]
        r.bookings += b["n"]
        r.booked_hours += b["booked_s"] / 3600
        r.used_hours += float(b["used"] or 0)
    jobs = ComputeJob.objects.filter(created_at__gte=lo, created_at__lt=hi)
    for b in jobs.values("tenant__tier").annotate(n=Count("pk"), h=Sum("gpu_hours")).order_by():
        r = rows[b["tenant__tier"]]
        r.jobs += b["n"]
        r.job_gpu_hours += float(b["h"] or 0)
    # Active tenants and users: distinct pairs from the members' daily table and jobs.
    days = TenantDayUsage.objects.filter(day__gte=start, day__lt=end)
    for source in (days, jobs):
        pairs = source.values_list("tenant_id", "user_id").distinct().order_by()
        for tenant_id, user_id in pairs:
            tier = tier_of[tenant_id]
            tenants[tier].add(tenant_id)
            users[tier].add(user_id)
    for tier, r in rows.items():
        r.tenants = len(tenants[tier])
        r.users = len(users[tier])
    return list(rows.values())
