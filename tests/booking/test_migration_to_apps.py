"""A database of the schema before the split into apps migrates to the apps without losing a row.

The ``booking`` app's migrations 0001–0005 are the schema as it was; 0006 and the apps' initial
migrations only move the models in Django's state (and their content types). Here a database is
migrated back to that schema, filled through the historical models (one row or more in every
table), and migrated forward to the end: every row, the exclusion constraint against overlapping
bookings, and a permission granted on a moved model must still be there.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

OLD = ("booking", "0005_calendar_feed_token")
TABLES = [
    "booking_tenant",
    "booking_membership",
    "booking_quota",
    "booking_quotachange",
    "booking_allocationround",
    "booking_booking",
    "booking_bookingevent",
    "booking_computejob",
    "booking_apitoken",
    "booking_idempotencyrecord",
    "booking_calendarfeedtoken",
]


def apps_after_the_split(graph) -> set[str]:
    """The apps of the split and the apps built on them, read from the migration graph: every
    app with a migration that needs a ``booking`` migration newer than ``OLD``."""
    newer = {
        node
        for node in graph.nodes
        if node[0] == "booking" and node != OLD and OLD in graph.forwards_plan(node)
    }
    return {node[0] for node in graph.nodes if newer & set(graph.forwards_plan(node))}


def _targets_before(executor) -> list[tuple[str, str]]:
    graph = executor.loader.graph
    after = apps_after_the_split(graph)
    return [OLD] + [leaf for leaf in graph.leaf_nodes() if leaf[0] not in after]


def _count(table: str) -> int:
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT count(*) FROM {table}")  # noqa: S608 - fixed table names
        return cursor.fetchone()[0]


def _fill(apps) -> dict[str, int]:
    """Rows in every table of the old ``booking`` app, written through its historical models."""
    User = apps.get_model("auth", "User")
    Location = apps.get_model("resources", "Location")
    Resource = apps.get_model("resources", "Resource")
    Tenant = apps.get_model("booking", "Tenant")
    Membership = apps.get_model("booking", "Membership")
    Quota = apps.get_model("booking", "Quota")
    QuotaChange = apps.get_model("booking", "QuotaChange")
    AllocationRound = apps.get_model("booking", "AllocationRound")
    Booking = apps.get_model("booking", "Booking")
    BookingEvent = apps.get_model("booking", "BookingEvent")
    ComputeJob = apps.get_model("booking", "ComputeJob")
    ApiToken = apps.get_model("booking", "ApiToken")
    IdempotencyRecord = apps.get_model("booking", "IdempotencyRecord")
    CalendarFeedToken = apps.get_model("booking", "CalendarFeedToken")

    start = dt.datetime(2030, 3, 4, 9, tzinfo=dt.UTC)
    users = [User.objects.create(username=f"u{i}", email=f"u{i}@example.org") for i in range(3)]
    site = Location.objects.create(name="Park", level="park", park="hk")
    xrd = Resource.objects.create(name="XRD", slug="xrd", kind="instrument", location=site)
    tenants = [
        Tenant.objects.create(
            name=f"T{i}", slug=f"t{i}", tier="startup", home_park="hk", slurm_account=f"t{i}"
        )
        for i in range(2)
    ]
    for i, user in enumerate(users):
        Membership.objects.create(user=user, tenant=tenants[i % 2], cluster_username=f"c{i}")
    Quota.objects.create(
        tenant=tenants[0], resource_class="instrument", period="week", hours=Decimal(40)
    )
    QuotaChange.objects.create(tenant=tenants[0], field="quota", new_value=Decimal(40))
    rnd = AllocationRound.objects.create(
        name="Week 10",
        period_start=start,
        period_end=start + dt.timedelta(days=7),
        cutoff=start - dt.timedelta(days=1),
        status="published",
        plan={"outcomes": {}},
        figures={"floor": 1.0},
    )
    granted = Booking.objects.create(
        tenant=tenants[0],
        user=users[0],
        resource=xrd,
        round=rnd,
        title="granted",
        start=start,
        end=start + dt.timedelta(hours=2),
        status="confirmed",
        reason_code="granted",
    )
    Booking.objects.create(
        tenant=tenants[1],
        user=users[1],
        resource=xrd,
        round=rnd,
        title="waiting",
        earliest_start=start,
        latest_end=start + dt.timedelta(days=1),
        duration_minutes=120,
        status="waitlisted",
        follows=None,
    )
    BookingEvent.objects.create(booking=granted, from_status="", to_status="confirmed")
    ComputeJob.objects.create(
        tenant=tenants[0],
        user=users[0],
        booking=granted,
        name="train",
        script="#!/bin/sh\ntrue\n",
        partition="gpu",
        time_limit_minutes=30,
        state="completed",
        reason="",
    )
    ApiToken.objects.create(
        user=users[0],
        tenant=tenants[0],
        name="laptop",
        scopes=["read"],
        prefix="abcdefabcdef",
        secret_hash="0" * 64,
        expires_at=start,
    )
    IdempotencyRecord.objects.create(user=users[0], key="k1", request_hash="h" * 64)
    CalendarFeedToken.objects.create(user=users[0], token_hash="f" * 64)
    return {table: _count(table) for table in TABLES}


def test_a_populated_database_of_the_old_schema_migrates_to_the_apps_without_losing_a_row():
    if connection.vendor != "postgresql":
        pytest.skip("needs PostgreSQL; runs in the PostgreSQL pass of `make test`")
    executor = MigrationExecutor(connection)
    before = _targets_before(executor)
    executor.migrate(before)
    executor.loader.build_graph()
    old_apps = executor.loader.project_state(before).apps

    counts = _fill(old_apps)
    assert all(n >= 1 for n in counts.values()), counts
    ContentType = old_apps.get_model("contenttypes", "ContentType")
    Permission = old_apps.get_model("auth", "Permission")
    User = old_apps.get_model("auth", "User")
    booking_type, _created = ContentType.objects.get_or_create(app_label="booking", model="booking")
    permission, _created = Permission.objects.get_or_create(
        content_type=booking_type, codename="change_booking", defaults={"name": "Can change"}
    )
    User.objects.get(username="u2").user_permissions.add(permission)

    executor = MigrationExecutor(connection)
    executor.migrate(executor.loader.graph.leaf_nodes())

    assert {table: _count(table) for table in TABLES} == counts
    from django.contrib.auth.models import User as CurrentUser
    from django.contrib.contenttypes.models import ContentType as CurrentContentType

    from booking.bookings.models import Booking
    from booking.compute.models import ComputeJob
    from booking.rounds.models import AllocationRound
    from booking.tenancy.models import Membership, Tenant

    assert Booking.objects.filter(round__name="Week 10").count() == 2
    assert ComputeJob.objects.get().booking.title == "granted"
    assert Membership.objects.filter(tenant__in=Tenant.objects.all()).count() == 3
    assert AllocationRound.objects.get().figures == {"floor": 1.0}
    moved = CurrentContentType.objects.get_for_model(Booking)
    assert (moved.app_label, moved.pk) == ("bookings", booking_type.pk)
    assert CurrentUser.objects.get(username="u2").has_perm("bookings.change_booking")
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT 1 FROM pg_constraint WHERE conname = 'booking_no_overlap_on_exclusive_resource'"
        )
        assert cursor.fetchone() is not None


def test_the_apps_after_the_split_are_read_from_the_migration_graph():
    from django.db.migrations.loader import MigrationLoader

    after = apps_after_the_split(MigrationLoader(None, ignore_no_migrations=True).graph)
    assert {"booking", "tenancy", "bookings", "rounds", "compute", "tokens"} <= after
    assert not after & {"auth", "contenttypes", "sessions", "admin"}
