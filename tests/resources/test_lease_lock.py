"""The lease lock: one holder at a time; a holder that died (never released) loses it when the
lease lapses; renewing keeps it; a lapsed holder cannot renew."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

from resources.locks import LeaseLost, lease_acquire, lease_lock, lease_release, lease_renew
from resources.models import Lease

pytestmark = pytest.mark.django_db


def test_one_holder_at_a_time_and_release():
    assert lease_acquire("x", holder="a", ttl=60)
    assert not lease_acquire("x", holder="b", ttl=60)
    assert lease_acquire("x", holder="a", ttl=60)  # re-entrant for the same holder
    lease_release("x", holder="b")  # not b's: no effect
    assert not lease_acquire("x", holder="b", ttl=60)
    lease_release("x", holder="a")
    assert lease_acquire("x", holder="b", ttl=60)


def test_a_dead_holders_lease_lapses():
    assert lease_acquire("follow", holder="killed-worker", ttl=60)
    # The worker was killed: nobody releases; time passes beyond the lease.
    Lease.objects.filter(name="follow").update(expires_at=timezone.now() - dt.timedelta(seconds=1))
    assert lease_acquire("follow", holder="restarted-worker", ttl=60)
    assert not lease_renew("follow", holder="killed-worker", ttl=60)
    assert lease_renew("follow", holder="restarted-worker", ttl=60)


def test_context_manager_yields_none_when_taken_and_renew_detects_loss():
    with lease_lock("job", ttl=60) as first:
        assert first is not None
        with lease_lock("job", ttl=60) as second:
            assert second is None
        first.renew()
        Lease.objects.filter(name="job").update(holder="someone-else")
        with pytest.raises(LeaseLost):
            first.renew()
    assert Lease.objects.filter(name="job", holder="someone-else").exists()
