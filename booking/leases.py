"""Leases: locks kept in the database with a holder and an expiry.

A worker takes a lease before work that must not run twice at once (re-planning a round's
waitlist, solving a round, following jobs in Slurm) and lets go when done. If it dies, the
lease simply expires and the next worker takes it; a holder whose work runs long renews it.
Each call commits on its own (autocommit), so a lease is visible to others at once.

Who finds a lease held may ask the holder to run once more (``want_again``): the holder's
``lease_release`` then answers False and keeps the lease, and the holder repeats its work — so
a second cancellation during a waitlist re-plan is never lost, and never re-planned in parallel.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone

from booking.models import Lease


class LeaseHeld(Exception):  # noqa: N818 - a state, not an error of the caller
    """Someone else holds the lease."""


def lease_acquire(*, name: str, seconds: float, holder: str | None = None) -> str | None:
    """Take ``name`` for ``seconds`` if it is free or expired (or already ours); returns the
    holder token, or None when someone else holds it."""
    holder = holder or uuid.uuid4().hex
    now = timezone.now()
    until = now + dt.timedelta(seconds=seconds)
    with transaction.atomic():
        taken = (
            Lease.objects.filter(name=name)
            .filter(Q(expires_at__lte=now) | Q(holder=holder))
            .update(holder=holder, expires_at=until, again=False)
        )
        if taken:
            return holder
        try:
            with transaction.atomic():
                Lease.objects.create(name=name, holder=holder, expires_at=until)
        except IntegrityError:
            return None
    return holder


def lease_renew(*, name: str, holder: str, seconds: float) -> bool:
    """Extend our lease; False when it was lost (it expired and someone else took it)."""
    until = timezone.now() + dt.timedelta(seconds=seconds)
    return bool(Lease.objects.filter(name=name, holder=holder).update(expires_at=until))


def want_again(*, name: str) -> bool:
    """Ask the current holder of ``name`` to run its work once more; False when nobody holds
    it (the caller may then take it itself)."""
    now = timezone.now()
    return bool(Lease.objects.filter(name=name, expires_at__gt=now).update(again=True))


def lease_release(*, name: str, holder: str) -> bool:
    """Let go of our lease. Returns False, keeping the lease, when someone asked for another
    run meanwhile (``again`` is cleared: the caller runs once more, then releases again)."""
    if Lease.objects.filter(name=name, holder=holder, again=False).delete()[0]:
        return True
    if Lease.objects.filter(name=name, holder=holder, again=True).update(again=False):
        return False
    return True  # expired and taken over, or already gone: nothing of ours is left


@contextmanager
def held(name: str, *, seconds: float) -> Iterator[str]:
    """``with held(name, seconds=…) as holder:`` — the lease for the block; ``LeaseHeld`` when
    someone else has it. Released at the end (a pending ``again`` request is dropped)."""
    holder = lease_acquire(name=name, seconds=seconds)
    if holder is None:
        raise LeaseHeld(name)
    try:
        yield holder
    finally:
        Lease.objects.filter(name=name, holder=holder).delete()
