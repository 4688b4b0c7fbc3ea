"""Shared fixtures: a small park with two tenants.

alice is a member and bob the manager of Acme; charlie is a member of Globex (the "other
tenant" every cross-tenant test uses); olga is the park's operator.
"""

from __future__ import annotations

import datetime as dt
import os
from dataclasses import dataclass

import pytest
from django.db import connection
from django.utils import timezone

REQUIRE_ALL = os.environ.get("PARK_REQUIRE_ALL", "") == "1" or os.environ.get("CI", "") == "true"


def pytest_collection_modifyitems(config, items):
    # PostgreSQL-only tests are skipped on SQLite (the suite runs again on PostgreSQL).
    from django.conf import settings

    on_postgres = settings.DATABASES["default"]["ENGINE"].endswith("postgresql")
    skip_pg = pytest.mark.skip(
        reason="needs PostgreSQL; runs in the PostgreSQL pass of `make test`"
    )
    for item in items:
        if "postgres" in item.keywords and not on_postgres:
            item.add_marker(skip_pg)


def require_or_skip(reason: str) -> None:
    """Skip locally when a dependency is missing, but fail in CI: nothing is skipped silently there."""
    if REQUIRE_ALL:
        pytest.fail(f"required in CI: {reason}")
    pytest.skip(reason)


@dataclass
class Park:
    acme: object
    globex: object
    alice: object
    bob: object
    charlie: object
    olga: object
    gpu: object
    confocal: object
    line: object
    xrd: object
    pool_gpu: object
    microscopy: object


@pytest.fixture
def park(db) -> Park:
    from django.contrib.auth import get_user_model

    from booking.tenancy.models import Membership, Period, Tenant, Tier
    from booking.tenancy.services import quota_set
    from resources.models import Location, ResourceKind, ResourcePool, Training
    from resources.models import Park as ParkSite
    from resources.services import (
        gpu_node_create,
        lab_instrument_create,
        pilot_line_create,
        training_grant,
    )

    User = get_user_model()
    alice = User.objects.create_user("alice", "alice@acme.example", "pw-alice", first_name="Alice")
    bob = User.objects.create_user("bob", "bob@acme.example", "pw-bob", first_name="Bob")
    charlie = User.objects.create_user(
        "charlie", "charlie@globex.example", "pw-charlie", first_name="Charlie"
    )
    olga = User.objects.create_user(
        "olga", "olga@park.local", "pw-olga", is_staff=True, is_superuser=True
    )
    acme = Tenant.objects.create(
        name="Acme Robotics",
        slug="acme",
        tier=Tier.STARTUP,
        home_park=ParkSite.HONG_KONG,
        weight=1,
        slurm_account="acme",
    )
    globex = Tenant.objects.create(
        name="Globex Materials",
        slug="globex",
        tier=Tier.ENTERPRISE,
        home_park=ParkSite.SHENZHEN,
        weight=2,
        slurm_account="globex",
    )
    Membership.objects.create(
        user=alice, tenant=acme, role=Membership.Role.MEMBER, cluster_username="alice"
    )
    Membership.objects.create(
        user=bob, tenant=acme, role=Membership.Role.MANAGER, cluster_username="bob"
    )
    Membership.objects.create(
        user=charlie, tenant=globex, role=Membership.Role.MEMBER, cluster_username="charlie"
    )

    site = Location.objects.create(name="Test park", level="park", park=ParkSite.HONG_KONG)
    room = Location.objects.create(
        name="Lab 1", level="room", parent=site, park="hk", biosafety_level=2
    )
    microscopy = Training.objects.create(
        code="confocal", name="Confocal microscopy", validity_days=365
    )
    today = timezone.localdate()
    training_grant(user=alice, training=microscopy, granted_on=today - dt.timedelta(days=10))
    training_grant(user=charlie, training=microscopy, granted_on=today - dt.timedelta(days=10))

    gpu = gpu_node_create(
        name="A100 node gpu01",
        slug="gpu01",
        location=room,
        gpu_model="A100",
        gpu_count=4,
        gpu_memory_gb=80,
        cpus=32,
        memory_gb=256,
        slurm_cluster="park",
        slurm_partition="gpu",
        slurm_node="gpu01",
        min_length_minutes=60,
        max_length_minutes=24 * 60,
        slot_minutes=60,
        horizon_days=28,
    )
    every_day = [(d, dt.time(8, 0), dt.time(20, 0)) for d in range(7)]
    confocal = lab_instrument_create(
        name="Confocal 1",
        slug="confocal-1",
        location=room,
        instrument_type="Confocal microscope",
        required_training=microscopy,
        opening_hours=every_day,
        min_length_minutes=30,
        max_length_minutes=240,
        slot_minutes=30,
        horizon_days=28,
        min_notice_minutes=0,
    )
    xrd = lab_instrument_create(
        name="XRD",
        slug="xrd",
        location=room,
        instrument_type="XRD",
        opening_hours=every_day,
        min_length_minutes=30,
        max_length_minutes=480,
        slot_minutes=30,
        horizon_days=60,
        booking_mode="round",
    )
    line = pilot_line_create(
        name="Epitaxy line",
        slug="epi",
        location=room,
        process="SiC/GaN epitaxy",
        min_run_minutes=240,
        recipes={"sic": "SiC", "gan": "GaN"},
        changeovers={"sic": {"sic": 0, "gan": 360}, "gan": {"sic": 240, "gan": 0}},
        shifts=[(d, dt.time(0, 0), dt.time(23, 59)) for d in range(7)],
        min_length_minutes=240,
        max_length_minutes=48 * 60,
        slot_minutes=60,
        horizon_days=60,
    )
    pool_gpu = ResourcePool.objects.create(
        name="Any A100", slug="any-a100", kind=ResourceKind.GPU_NODE
    )
    pool_gpu.members.set([gpu])
    for tenant in (acme, globex):
        quota_set(
            tenant=tenant, resource_class=ResourceKind.GPU_NODE, period=Period.WEEK, hours=100
        )
        quota_set(
            tenant=tenant, resource_class=ResourceKind.LAB_INSTRUMENT, period=Period.WEEK, hours=20
        )
        quota_set(
            tenant=tenant, resource_class=ResourceKind.PILOT_LINE, period=Period.MONTH, hours=200
        )
    return Park(
        acme=acme,
        globex=globex,
        alice=alice,
        bob=bob,
        charlie=charlie,
        olga=olga,
        gpu=gpu,
        confocal=confocal,
        line=line,
        xrd=xrd,
        pool_gpu=pool_gpu,
        microscopy=microscopy,
    )


@pytest.fixture
def on_postgres() -> bool:
    return connection.vendor == "postgresql"
