"""Charges: what a booking, a no-show or a job costs under the rate cards. Pure computation over
plain rows (no queries), so a month of a tenant is priced in one pass.

Rules (stated once, used everywhere):

* **Peak hours** are Monday to Friday, 09:00–18:00 Asia/Hong_Kong time (``settings.TIME_ZONE``;
  ``BILLING_PEAK_HOURS``); every other hour, weekends and nights, is off-peak. Public holidays
  are not modelled (they are charged as their weekday).
* An hourly charge is split by the share of its interval in peak hours: the interval is the
  check-in to check-out when both are known, else the booking's start to end; the hours
  charged (used hours of the usage record, else booked hours × units) are split in that ratio.
  Each booking's hours and its peak part are counted in millionths of an hour, rounded
  half-up, before they are added up (the same integers whether priced here or in SQL).
* A per-run price takes the band of the run's start.
* A no-show is charged ``no_show_per_hour`` per booked hour (× units); nothing else.
* GPU-hour prices are multiplied by the factor of the cluster that ran them (``ClusterFactor``;
  a cluster without a row has factor 1); the unit price is rounded half-up to cents first.
* A booking costing less than its card's ``minimum_charge`` is topped up to it (a separate line).
* Consumables (wafers of a line run) are their own line: wafers × ``consumable_price``.
* Lines are quantity (4 decimals) × unit price, each rounded half-up to cents; a statement's
  total is the sum of its rounded lines.
"""

from __future__ import annotations

import bisect
import datetime as dt
from collections import defaultdict
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal

from django.conf import settings
from django.utils import timezone

CENT = Decimal("0.01")
QTY = Decimal("0.0001")
HOUR = Decimal(3600)
ZERO = Decimal(0)
MICRO = Decimal(1_000_000)
PEAK = "peak"
OFF_PEAK = "off_peak"


def money(value: Decimal) -> Decimal:
    return value.quantize(CENT, rounding=ROUND_HALF_UP)


def quantity(value: Decimal) -> Decimal:
    return value.quantize(QTY, rounding=ROUND_HALF_UP)


def booked_micro_hours(units: int, seconds: int) -> int:
    """Booked hours × units in millionths of an hour, rounded half-up (the same integer
    arithmetic runs in SQL when a month is closed, see ``monthly``)."""
    return (units * seconds * 1_000_000 + 1800) // 3600


def peak_micro_hours(hours_m: int, peak_s: int, length_s: int) -> int:
    """The peak share of ``hours_m`` millionths of an hour: × peak seconds / interval seconds,
    rounded half-up to a millionth of an hour (0 for an empty interval)."""
    if length_s <= 0 or peak_s <= 0:
        return 0
    return (2 * hours_m * peak_s + length_s) // (2 * length_s)


# --------------------------------------------------------------------------------------------
# Peak hours
# --------------------------------------------------------------------------------------------


def _peak_hours() -> tuple[int, int]:
    start, end = getattr(settings, "BILLING_PEAK_HOURS", (9, 18))
    return int(start), int(end)


_OFFSETS: dict[tuple, int] = {}


def _local_seconds(value: dt.datetime | int) -> int:
    """Seconds since 1970-01-01 00:00 local time: the UTC offset of that moment (looked up
    once per hour of the time zone and cached, so DST is right and pricing stays fast)."""
    ts = value if isinstance(value, int) else int(value.timestamp())
    tz = timezone.get_current_timezone() if not _TZ else _TZ[0]
    key = (tz.key if hasattr(tz, "key") else str(tz), ts // 3600)
    offset = _OFFSETS.get(key)
    if offset is None:
        offset = int(dt.datetime.fromtimestamp(ts, tz).utcoffset().total_seconds())
        _OFFSETS[key] = offset
    return ts + offset


# The time zone while a batch is priced (resolving Django's current time zone per row costs
# more than the pricing itself); see ``pricing_zone``.
_TZ: list = []


class pricing_zone:  # noqa: N801 - used as a context manager
    def __enter__(self):
        _TZ.insert(0, timezone.get_current_timezone())
        return self

    def __exit__(self, *exc):
        _TZ.pop(0)


def _local_day(local_seconds: int) -> dt.date:
    return dt.date.fromordinal(719163 + local_seconds // 86400)  # 719163: 1970-01-01


def _peak_before(t: int, start_h: int, end_h: int) -> int:
    """Peak seconds in [Monday 1969-12-29 00:00 local, t)."""
    daily = (end_h - start_h) * 3600
    weeks, rem = divmod(t + 3 * 86400, 7 * 86400)  # 1970-01-01 was a Thursday
    day, sec = divmod(rem, 86400)
    total = weeks * 5 * daily + min(day, 5) * daily
    if day < 5:
        total += min(max(sec - start_h * 3600, 0), daily)
    return total


def _peak_between(a: int, b: int) -> int:
    if b <= a:
        return 0
    start_h, end_h = _peak_hours()
    return _peak_before(b, start_h, end_h) - _peak_before(a, start_h, end_h)


def peak_seconds(start: dt.datetime, end: dt.datetime) -> int:
    """Seconds of [start, end) in peak hours."""
    return _peak_between(_local_seconds(start), _local_seconds(end))


def is_peak(moment: dt.datetime) -> bool:
    a = _local_seconds(moment)
    return _peak_between(a, a + 1) == 1


# --------------------------------------------------------------------------------------------
# Rates
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Rate:
    """The prices of one rate card version (a plain copy, so pricing needs no queries)."""

    card_id: int
    unit: str
    peak_price: Decimal
    off_peak_price: Decimal
    minimum_charge: Decimal
    no_show_per_hour: Decimal
    consumable_name: str
    consumable_price: Decimal


class RateBook:
    """Every rate card version, looked up by (resource or class, tier, day). A resource's own
    card wins over its class's; of the versions the one with the latest ``valid_from`` on or
    before the day applies."""

    def __init__(self, cards) -> None:
        by_key: dict[tuple, list] = defaultdict(list)
        for c in cards:
            key = ("r", c.resource_id) if c.resource_id else ("c", c.resource_class)
            by_key[(*key, c.tier)].append(
                (
                    c.valid_from,
                    Rate(
                        card_id=c.pk,
                        unit=c.unit,
                        peak_price=c.peak_price,
                        off_peak_price=c.off_peak_price,
                        minimum_charge=c.minimum_charge,
                        no_show_per_hour=c.no_show_per_hour,
                        consumable_name=c.consumable_name,
                        consumable_price=c.consumable_price,
                    ),
                )
            )
        self._days: dict[tuple, list[dt.date]] = {}
        self._rates: dict[tuple, list[Rate]] = {}
        for key, versions in by_key.items():
            versions.sort(key=lambda v: v[0])
            self._days[key] = [v[0] for v in versions]
            self._rates[key] = [v[1] for v in versions]

    def _on(self, key: tuple, day: dt.date) -> Rate | None:
        days = self._days.get(key)
        if not days:
            return None
        i = bisect.bisect_right(days, day)
        return self._rates[key][i - 1] if i else None

    def find(self, *, resource_id, resource_class: str, tier: str, day: dt.date) -> Rate | None:
        return self._on(("r", resource_id, tier), day) or self._on(("c", resource_class, tier), day)


# --------------------------------------------------------------------------------------------
# Pricing rows into lines
# --------------------------------------------------------------------------------------------


@dataclass(slots=True)
class Usage:
    """One closed booking as billing sees it. Times are Unix seconds (UTC): a month of
    bookings is read as integers, not datetimes, which is most of the pricing's speed."""

    resource_id: int
    resource_class: str
    resource_name: str
    start: int
    end: int
    units: int
    no_show: bool
    used_hours: Decimal | None = None
    checked_in_at: int | None = None
    checked_out_at: int | None = None
    booked_end: int | None = None
    wafers: int = 0
    cluster: str = ""
    project_id: int | None = None


@dataclass
class Job:
    """One finished compute job without a booking (a job in a booking is in its usage)."""

    started_at: dt.datetime | None
    ended_at: dt.datetime
    gpu_hours: Decimal
    cluster: str
    project_id: int | None = None


@dataclass(slots=True)
class Group:
    """Bookings of one project, resource and rate summed up: hours in millionths, top-ups in
    1e-8 HKD; ``rate`` holds the unit prices as charged (cluster factor applied)."""

    project_id: int | None
    resource_id: int
    resource_name: str
    rate: Rate
    peak_m: int = 0
    peak_n: int = 0
    off_m: int = 0
    off_n: int = 0
    peak_runs: int = 0
    off_runs: int = 0
    no_show_m: int = 0
    no_show_n: int = 0
    topup_e8: int = 0
    wafers: int = 0
    wafers_n: int = 0


@dataclass
class Line:
    project_id: int | None
    kind: str
    description: str
    resource_id: int | None = None
    band: str = ""
    quantity: Decimal = ZERO
    unit_price: Decimal = ZERO
    amount: Decimal = ZERO
    items: int = 0


@dataclass
class Pricer:
    """Adds priced usage and jobs up into statement lines (one line per project, kind,
    resource, band and unit price)."""

    rates: RateBook
    tier: str
    factors: dict[str, Decimal]
    _qty: dict[tuple, Decimal] = field(default_factory=lambda: defaultdict(Decimal))
    _items: dict[tuple, int] = field(default_factory=lambda: defaultdict(int))
    _names: dict[tuple, str] = field(default_factory=dict)
    _topups: dict[tuple, Decimal] = field(default_factory=lambda: defaultdict(Decimal))
    unpriced: int = 0

    def factor(self, cluster: str) -> Decimal:
        return self.factors.get(cluster, Decimal(1))

    def _add(self, key: tuple, qty: Decimal, name: str) -> None:
        self._qty[key] += qty
        self._items[key] += 1
        self._names[key] = name

    def add_usage(self, u: Usage) -> Decimal | None:
        """Prices one booking; returns its exact cost (before rounding), None without a rate."""
        start_s = _local_seconds(u.start)
        day = _local_day(start_s)
        rate = self.rates.find(
            resource_id=u.resource_id, resource_class=u.resource_class, tier=self.tier, day=day
        )
        if rate is None:
            self.unpriced += 1
            return None
        booked_m = booked_micro_hours(u.units, (u.booked_end or u.end) - u.start)
        booked = Decimal(booked_m) / MICRO
        if u.no_show:
            if not rate.no_show_per_hour:
                return ZERO
            key = (u.project_id, "no_show", u.resource_id, "", rate.no_show_per_hour)
            self._add(key, booked, u.resource_name)
            return booked * rate.no_show_per_hour
        factor = self.factor(u.cluster) if rate.unit == "gpu_hour" else Decimal(1)
        peak_price = money(rate.peak_price * factor)
        off_price = money(rate.off_peak_price * factor)
        cost = ZERO
        if rate.unit == "run":
            peak = _peak_between(start_s, start_s + 1) == 1
            band, price = (PEAK, peak_price) if peak else (OFF_PEAK, off_price)
            self._add(
                (u.project_id, "usage", u.resource_id, band, price), Decimal(1), u.resource_name
            )
            cost = price
        else:
            if u.used_hours is None:
                hours_m = booked_m
            else:
                hours_m = int((u.used_hours * MICRO).to_integral_value(ROUND_HALF_UP))
            a = _local_seconds(u.checked_in_at) if u.checked_in_at else start_s
            b = _local_seconds(u.checked_out_at or u.end)
            peak_m = peak_micro_hours(hours_m, _peak_between(a, b), b - a)
            peak_h = Decimal(peak_m) / MICRO
            off_h = Decimal(hours_m - peak_m) / MICRO
            if peak_h:
                self._add(
                    (u.project_id, "usage", u.resource_id, PEAK, peak_price),
                    peak_h,
                    u.resource_name,
                )
            if off_h:
                self._add(
                    (u.project_id, "usage", u.resource_id, OFF_PEAK, off_price),
                    off_h,
                    u.resource_name,
                )
            cost = peak_h * peak_price + off_h * off_price
        if cost < rate.minimum_charge:
            self._topups[(u.project_id, u.resource_id, u.resource_name)] += (
                rate.minimum_charge - cost
            )
            cost = rate.minimum_charge
        if u.wafers and rate.consumable_price:
            key = (u.project_id, "consumable", u.resource_id, "", rate.consumable_price)
            name = f"{u.resource_name}: {rate.consumable_name or 'wafers'}"
            self._add(key, Decimal(u.wafers), name)
            cost += u.wafers * rate.consumable_price
        return cost

    def add_group(self, g: Group) -> None:
        """Adds bookings already summed up by the database (see ``monthly``); the same lines
        as ``add_usage`` for each of them."""
        r = g.rate
        name = g.resource_name
        if g.no_show_n:
            key = (g.project_id, "no_show", g.resource_id, "", r.no_show_per_hour)
            self._qty[key] += Decimal(g.no_show_m) / MICRO
            self._items[key] += g.no_show_n
            self._names[key] = name
        for band, price, qty, n in (
            (PEAK, r.peak_price, Decimal(g.peak_m) / MICRO, g.peak_n),
            (OFF_PEAK, r.off_peak_price, Decimal(g.off_m) / MICRO, g.off_n),
            (PEAK, r.peak_price, Decimal(g.peak_runs), g.peak_runs),
            (OFF_PEAK, r.off_peak_price, Decimal(g.off_runs), g.off_runs),
        ):
            if n:
                key = (g.project_id, "usage", g.resource_id, band, price)
                self._qty[key] += qty
                self._items[key] += n
                self._names[key] = name
        if g.topup_e8:
            self._topups[(g.project_id, g.resource_id, name)] += Decimal(g.topup_e8) / 10**8
        if g.wafers_n:
            key = (g.project_id, "consumable", g.resource_id, "", r.consumable_price)
            self._qty[key] += Decimal(g.wafers)
            self._items[key] += g.wafers_n
            self._names[key] = f"{name}: {r.consumable_name or 'wafers'}"

    def add_job(self, job: Job, *, resource_class: str = "gpu") -> Decimal | None:
        day = _local_day(_local_seconds(job.ended_at))
        rate = self.rates.find(
            resource_id=None, resource_class=resource_class, tier=self.tier, day=day
        )
        if rate is None:
            self.unpriced += 1
            return None
        factor = self.factor(job.cluster)
        a = job.started_at or job.ended_at
        length = int((job.ended_at - a).total_seconds())
        share = Decimal(peak_seconds(a, job.ended_at)) / Decimal(length) if length > 0 else ZERO
        peak_h = job.gpu_hours * share
        off_h = job.gpu_hours - peak_h
        cost = ZERO
        name = f"GPU jobs on {job.cluster}"
        for band, hours, price in (
            (PEAK, peak_h, money(rate.peak_price * factor)),
            (OFF_PEAK, off_h, money(rate.off_peak_price * factor)),
        ):
            if hours:
                self._add((job.project_id, "jobs", None, band, price), hours, name)
                cost += hours * price
        return cost

    def lines(self) -> list[Line]:
        out = []
        for key, qty in self._qty.items():
            project_id, kind, resource_id, band, price = key
            q = quantity(qty)
            band_text = {PEAK: " (peak)", OFF_PEAK: " (off-peak)"}.get(band, "")
            label = {"no_show": "no-show, booked hours", "consumable": "", "jobs": "GPU-hours"}
            extra = label.get(kind, "")
            description = self._names[key] + (f" — {extra}" if extra else "") + band_text
            out.append(
                Line(
                    project_id=project_id,
                    kind=kind,
                    description=description[:200],
                    resource_id=resource_id,
                    band=band,
                    quantity=q,
                    unit_price=price,
                    amount=money(q * price),
                    items=self._items[key],
                )
            )
        for (project_id, resource_id, name), amount in self._topups.items():
            out.append(
                Line(
                    project_id=project_id,
                    kind="minimum",
                    description=f"{name} — minimum charge top-up"[:200],
                    resource_id=resource_id,
                    amount=money(amount),
                )
            )
        return out
