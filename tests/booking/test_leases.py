"""Leases: one holder at a time, taken over once expired, and a second request run again."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

from booking.leases import (
    LeaseHeld,
    held,
    lease_acquire,
    lease_release,
    lease_renew,
    want_again,
)
from booking.models import Lease

pytestmark = pytest.mark.django_db


def test_a_held_lease_is_refused_to_another_holder():
    first = lease_acquire(name="round-1", seconds=60)
    assert first is not None
    assert lease_acquire(name="round-1", seconds=60) is None
    assert lease_acquire(name="round-1", seconds=60, holder=first) == first  # its own: renewed
    with pytest.raises(LeaseHeld):
        with held("round-1", seconds=60):
            pass
    assert lease_acquire(name="round-2", seconds=60) is not None  # another name is free


def test_an_expired_lease_of_a_dead_holder_is_taken_over():
    dead = lease_acquire(name="jobs-follow", seconds=60)
    Lease.objects.filter(name="jobs-follow").update(
        expires_at=timezone.now() - dt.timedelta(seconds=1)
    )
    alive = lease_acquire(name="jobs-follow", seconds=60)
    assert alive is not None and alive != dead
    assert not lease_renew(name="jobs-follow", holder=dead, seconds=60)
    assert lease_renew(name="jobs-follow", holder=alive, seconds=60)
    # The dead holder's release does not free the new holder's lease.
    assert lease_release(name="jobs-follow", holder=dead)
    assert Lease.objects.get(name="jobs-follow").holder == alive


def test_asking_for_another_run_keeps_the_lease_for_one_more_pass():
    holder = lease_acquire(name="round-7", seconds=60)
    assert want_again(name="round-7")
    assert lease_release(name="round-7", holder=holder) is False  # run once more
    assert Lease.objects.filter(name="round-7", holder=holder, again=False).exists()
    assert lease_release(name="round-7", holder=holder) is True
    assert not Lease.objects.filter(name="round-7").exists()
    assert not want_again(name="round-7")  # nobody holds it: the caller takes it itself


def test_the_block_form_releases_at_the_end_even_on_error():
    with pytest.raises(RuntimeError):
        with held("round-3", seconds=60):
            raise RuntimeError("planner crashed")
    assert not Lease.objects.filter(name="round-3").exists()
