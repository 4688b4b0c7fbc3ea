"""Whether a job without a booking fits outside the reserved windows of its partition.

Each confirmed GPU booking is a Slurm reservation on its whole node (``slurm_state``); a job
that names no booking runs in no reservation, so on a booked node it can only start outside
every booked window. Slurm holds such a job until it fits; the park refuses it at submission
(``no_unreserved_capacity``, 409) when no node of the partition that is wide enough has a gap
of the job's time limit starting within ``SLURM_UNRESERVED_HORIZON_HOURS`` (default 72).

The check reads the park's own bookings, never Slurm, so it costs two queries and works while
Slurm is unreachable. The tenant's own bookings count as well: Slurm does not put a job into a
reservation it did not name, so an unbooked job cannot use its own tenant's booked window
either (the message says to name the booking then). Running jobs are not counted: Slurm ends
them within their time limits and queues behind them.
"""

from __future__ import annotations

import datetime as dt

from django.conf import settings
from django.utils.translation import gettext as _

from booking.bookings.models import Booking, BookingStatus
from booking.errors import Conflict
from booking.formats import duration_text, when_text
from resources.models import GpuNode, ResourceKind

DEFAULT_HORIZON_HOURS = 72


def horizon() -> dt.timedelta:
    hours = getattr(settings, "SLURM_UNRESERVED_HORIZON_HOURS", DEFAULT_HORIZON_HOURS)
    return dt.timedelta(hours=float(hours or DEFAULT_HORIZON_HOURS))


def first_fit(
    busy: list[tuple[dt.datetime, dt.datetime]], *, length: dt.timedelta, now: dt.datetime
) -> dt.datetime:
    """The earliest start at or after ``now`` of a window ``length`` long that overlaps none of
    the ``busy`` windows (half-open; a job may end the instant a booking starts)."""
    start = now
    for begin, end in sorted(busy):
        if end <= start:
            continue
        if start + length <= begin:
            break
        start = max(start, end)
    return start


def check_unreserved_capacity(
    *,
    tenant_id: int,
    cluster_name: str,
    partition: str,
    gpus: int,
    gpu_type: str | None,
    time_limit_minutes: int,
    now: dt.datetime,
) -> None:
    """Raise ``Conflict("no_unreserved_capacity")`` when the job cannot start outside the booked
    windows of its partition's nodes within the horizon. A partition the park knows no GPU
    node of is left to Slurm."""
    nodes = {
        node.pk: node
        for node in GpuNode.objects.filter(
            slurm_cluster=cluster_name,
            slurm_partition=partition,
            resource__active=True,
            gpu_count__gte=gpus,
        ).only("resource_id", "gpu_model", "slurm_node")
        if gpu_type is None or node.gpu_model.lower() == gpu_type
    }
    if not nodes:
        return
    length = dt.timedelta(minutes=time_limit_minutes)
    busy: dict[int, list[tuple[dt.datetime, dt.datetime]]] = {pk: [] for pk in nodes}
    own: set[int] = set()
    for resource_id, start, end, owner in Booking.objects.filter(
        status=BookingStatus.CONFIRMED,
        resource_id__in=list(nodes),
        resource__kind=ResourceKind.GPU_NODE,
        tenant__active=True,
        end__gt=now,
        start__isnull=False,
    ).values_list("resource_id", "start", "end", "tenant_id"):
        busy[resource_id].append((start, end))
        if owner == tenant_id:
            own.add(resource_id)
    earliest = min(first_fit(busy[pk], length=length, now=now) for pk in nodes)
    limit = horizon()
    if earliest <= now + limit:
        return
    end = earliest + length
    # Filled here with the reader's formats (the params keep the raw values); ParkError fills
    # placeholders again, so a "%" left in the text is escaped.
    message = _(
        "Partition %(partition)s has no node free of bookings for %(length)s starting "
        "within the next %(horizon)s; the first such window is %(from)s – %(until)s. "
        "Send the job in a booking, or shorten its time limit."
    ) % {
        "partition": partition,
        "length": duration_text(time_limit_minutes),
        "horizon": duration_text(round(limit.total_seconds() / 60)),
        "from": when_text(earliest),
        "until": when_text(end),
    }
    raise Conflict(
        "no_unreserved_capacity",
        message.replace("%", "%%"),
        params={
            "partition": partition,
            "minutes": time_limit_minutes,
            "hours": _hours(limit),
            "start": earliest.isoformat(timespec="minutes"),
            "end": end.isoformat(timespec="minutes"),
            "own_booking_in_the_way": bool(own),
        },
        field="time_limit_minutes",
    )


def _hours(limit: dt.timedelta) -> int | float:
    hours = limit.total_seconds() / 3600
    return int(hours) if hours == int(hours) else round(hours, 2)
