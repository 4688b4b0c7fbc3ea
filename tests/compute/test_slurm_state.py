"""What the park wants Slurm to hold (booking/compute/slurm_state.py), and the changes that enqueue a
reconciliation (booking/compute/slurm_hooks.py)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.utils import timezone

from booking.bookings.models import Booking, BookingStatus
from booking.compute.slurm_state import wanted_state
from booking.tenancy.models import Membership, Period, Quota, Tenant
from resources.models import GpuNode, ResourceKind

pytestmark = pytest.mark.django_db


@pytest.fixture
def on_cluster(park, settings):
    settings.SLURM_CLUSTER = "parkdev"
    settings.SLURM_PARENT_ACCOUNT = "park"
    settings.SLURM_QUOTA_PERIOD = "month"
    GpuNode.objects.filter(resource=park.gpu).update(slurm_cluster="parkdev")
    return park


def test_accounts_users_limits_and_fairshare(on_cluster):
    park = on_cluster
    Tenant.objects.filter(pk=park.acme.pk).update(slug="acme-robotics", weight=Decimal("0.25"))
    Quota.objects.create(
        tenant=park.acme,
        resource_class=ResourceKind.GPU_NODE,
        period=Period.MONTH,
        hours=Decimal("7.5"),
    )
    Membership.objects.filter(user=park.bob).update(cluster_username="")
    Tenant.objects.create(
        name="Gone", slug="gone", tier=park.acme.tier, home_park="hk", slurm_account="gone",
        active=False,
    )  # fmt: skip
    state = wanted_state()
    assert state.parent == "park"
    by_name = {a.name: a for a in state.accounts}
    assert set(by_name) == {"acme_robotics", "globex"}
    acme = by_name["acme_robotics"]
    assert (acme.fairshare, acme.gpu_minutes, acme.users) == (250, 450, {"alice"})
    globex = by_name["globex"]
    # Globex has a weekly GPU quota only: Slurm resets usage monthly, so no limit there.
    assert (globex.fairshare, globex.gpu_minutes, globex.users) == (2000, None, {"charlie"})


def test_reservations_from_confirmed_gpu_bookings_only(on_cluster):
    park = on_cluster
    now = timezone.now().replace(microsecond=0)

    def book(status, start, end, resource=park.gpu):
        return Booking.objects.create(
            tenant=park.acme, user=park.alice, resource=resource, title="x", units=1,
            start=start, end=end, status=status,
        )  # fmt: skip

    hour = dt.timedelta(hours=1)
    confirmed = book(BookingStatus.CONFIRMED, now + hour, now + 2 * hour)
    book(BookingStatus.CANCELLED, now + 3 * hour, now + 4 * hour)
    book(BookingStatus.CONFIRMED, now - 3 * hour, now - 2 * hour)  # over
    book(BookingStatus.CONFIRMED, now + hour, now + 2 * hour, resource=park.confocal)
    state = wanted_state(now=now)
    assert [(r.name, r.nodes, r.start, r.end, r.accounts) for r in state.reservations] == [
        (f"park_booking_{confirmed.pk}", ("gpu01",), confirmed.start, confirmed.end, ("acme",))
    ]


def test_changes_that_matter_enqueue_a_sync(
    on_cluster, settings, monkeypatch, django_capture_on_commit_callbacks
):
    park = on_cluster
    settings.SLURM_REST_URL = "http://127.0.0.1:9"
    settings.SLURM_SYNC_ON_CHANGE = True
    calls = []
    import resources.tasks

    monkeypatch.setattr(resources.tasks, "slurm_sync_task", lambda trigger: calls.append(trigger))
    with django_capture_on_commit_callbacks(execute=True):
        membership = Membership.objects.get(user=park.alice)
        membership.cluster_username = "alice2"
        membership.save()
    with django_capture_on_commit_callbacks(execute=True):
        park.acme.weight = Decimal("3")
        park.acme.save()
    with django_capture_on_commit_callbacks(execute=True):
        Quota.objects.filter(tenant=park.acme).first().save()
    assert [c.split()[0] for c in calls] == ["membership", "tenant", "quota"]
    settings.SLURM_SYNC_ON_CHANGE = False
    with django_capture_on_commit_callbacks(execute=True):
        park.acme.save()
    assert len(calls) == 3
