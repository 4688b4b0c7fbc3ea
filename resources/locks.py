"""A lock with a lease: held by one holder until its expiry, renewed while the work runs.

A worker killed while holding it (kill -9) does not keep it: the lease lapses after ``ttl``
seconds and the next taker gets it; a plain restart recovers without flushing anything. The
lease lives in the database (table resources_lease), so every worker process sharing the
database sees the same lock. Taking and renewing are single conditional statements, safe
under concurrency on SQLite and PostgreSQL.
"""

from __future__ import annotations

import os
import socket
import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta

from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone

from resources.models import Lease


class LeaseLost(Exception):
    """The lease lapsed (or another holder took it) while the work ran."""


def new_holder() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{threading.get_ident()}:{uuid.uuid4().hex[:8]}"


def lease_acquire(name: str, *, holder: str, ttl: float) -> bool:
    """Take the lease if it is free, lapsed or already ours; True when we hold it now."""
    now = timezone.now()
    until = now + timedelta(seconds=ttl)
    taken = (
        Lease.objects.filter(name=name)
        .filter(Q(expires_at__lte=now) | Q(holder=holder))
        .update(holder=holder, expires_at=until)
    )
    if taken:
        return True
    try:
        with transaction.atomic():
            Lease.objects.create(name=name, holder=holder, expires_at=until)
        return True
    except IntegrityError:
        return False


def lease_renew(name: str, *, holder: str, ttl: float) -> bool:
    """Extend our lease; False when it is no longer ours."""
    until = timezone.now() + timedelta(seconds=ttl)
    return bool(Lease.objects.filter(name=name, holder=holder).update(expires_at=until))


def lease_release(name: str, *, holder: str) -> None:
    Lease.objects.filter(name=name, holder=holder).delete()


class Held:
    """The handle ``lease_lock`` yields: ``renew()`` between units of work."""

    def __init__(self, name: str, holder: str, ttl: float) -> None:
        self.name, self.holder, self.ttl = name, holder, ttl

    def renew(self) -> None:
        if not lease_renew(self.name, holder=self.holder, ttl=self.ttl):
            raise LeaseLost(self.name)


@contextmanager
def lease_lock(name: str, *, ttl: float = 60.0, holder: str | None = None) -> Iterator[Held | None]:
    """``with lease_lock("x") as held:`` — ``held`` is None when another holder has it."""
    holder = holder or new_holder()
    if not lease_acquire(name, holder=holder, ttl=ttl):
        yield None
        return
    try:
        yield Held(name, holder, ttl)
    finally:
        lease_release(name, holder=holder)
