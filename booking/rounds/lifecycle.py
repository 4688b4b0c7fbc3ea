"""A round's status changes, each a compare-and-set, so two operators clicking at once cannot both
close, plan or publish it.
"""

from __future__ import annotations

import datetime as dt

from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext as _

from booking.errors import Conflict, NotFound
from booking.rounds.models import AllocationRound

Status = AllocationRound.Status


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
            _("The round is %(status)s; this cannot be done now."),
            params={"status": Status(current).label},
            field="status",
        )
    rnd.refresh_from_db()
    return rnd


def round_close(*, allocation_round: AllocationRound, actor=None) -> AllocationRound:
    """OPEN → CLOSED: no more requests. The operator may close before the cut-off."""
    return _round_cas(
        allocation_round, old=(Status.OPEN,), new=Status.CLOSED, code="round_not_open"
    )


def rounds_close_due(*, now: dt.datetime | None = None) -> int:
    """Close every open round whose cut-off has passed. Returns how many were closed."""
    now = now or timezone.now()
    return AllocationRound.objects.filter(status=Status.OPEN, cutoff__lte=now).update(
        status=Status.CLOSED
    )


def solve_stale_after(rnd: AllocationRound) -> dt.timedelta:
    """How long a SOLVING round may go without a result before it may be planned again."""
    return dt.timedelta(seconds=3 * (rnd.time_limit_seconds or 10) + 120)
