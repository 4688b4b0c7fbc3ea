"""Quotas and weights: database constraints, the services, and their audit history."""

from decimal import Decimal

import pytest
from django.db import IntegrityError, transaction

from booking.errors import ParkError
from booking.tenancy.models import Membership, Quota, QuotaChange, Tenant
from booking.tenancy.services import quota_set, quotas_scale, tenant_set_weight


def test_database_refuses_negative_quota(park):
    with pytest.raises(IntegrityError), transaction.atomic():
        Quota.objects.filter(tenant=park.acme).update(hours=-1)


def test_database_refuses_second_quota_for_same_tenant_class_and_period(park):
    with pytest.raises(IntegrityError), transaction.atomic():
        Quota.objects.create(tenant=park.acme, resource_class="gpu", period="week", hours=5)


def test_database_refuses_zero_weight(park):
    with pytest.raises(IntegrityError), transaction.atomic():
        Tenant.objects.filter(pk=park.acme.pk).update(weight=0)


def test_database_refuses_second_membership_of_same_user_and_tenant(park):
    with pytest.raises(IntegrityError), transaction.atomic():
        Membership.objects.create(user=park.alice, tenant=park.acme)


def test_quota_set_refuses_negative_hours_and_changes_nothing(park):
    before = Quota.objects.get(tenant=park.acme, resource_class="gpu", period="week").hours
    history = QuotaChange.objects.count()
    with pytest.raises(ParkError) as info:
        quota_set(tenant=park.acme, resource_class="gpu", period="week", hours=-10, actor=park.olga)
    assert info.value.code == "quota_negative" and info.value.field == "hours"
    assert Quota.objects.get(tenant=park.acme, resource_class="gpu", period="week").hours == before
    assert QuotaChange.objects.count() == history


def test_quota_set_refuses_a_non_number(park):
    with pytest.raises(ParkError) as info:
        quota_set(tenant=park.acme, resource_class="gpu", period="week", hours="lots")
    assert info.value.code == "invalid_number"


def test_quota_change_is_recorded_with_who_when_and_old_to_new(park):
    quota_set(
        tenant=park.acme, resource_class="gpu", period="week", hours=150, actor=park.olga, note="x"
    )
    change = QuotaChange.objects.filter(
        tenant=park.acme, field="quota", resource_class="gpu"
    ).first()
    assert (change.old_value, change.new_value, change.changed_by) == (
        Decimal("100"),
        Decimal("150"),
        park.olga,
    )
    assert change.changed_at is not None


def test_setting_the_same_quota_again_records_nothing(park):
    count = QuotaChange.objects.count()
    quota_set(tenant=park.acme, resource_class="gpu", period="week", hours=100, actor=park.olga)
    assert QuotaChange.objects.count() == count


def test_scaling_quotas_changes_each_and_records_each(park):
    count = QuotaChange.objects.count()
    scaled = quotas_scale(
        tenants=Tenant.objects.filter(pk=park.acme.pk), percent=10, actor=park.olga
    )
    assert scaled == 3
    assert Quota.objects.get(
        tenant=park.acme, resource_class="gpu", period="week"
    ).hours == Decimal("110.00")
    assert Quota.objects.get(
        tenant=park.globex, resource_class="gpu", period="week"
    ).hours == Decimal("100.00")
    assert QuotaChange.objects.count() == count + 3


def test_scaling_by_minus_100_percent_or_less_is_refused(park):
    with pytest.raises(ParkError) as info:
        quotas_scale(tenants=Tenant.objects.all(), percent=-100, actor=park.olga)
    assert info.value.field == "percent"
    assert Quota.objects.get(
        tenant=park.acme, resource_class="gpu", period="week"
    ).hours == Decimal("100.00")


def test_weight_change_is_audited_and_non_positive_weight_refused(park):
    tenant_set_weight(tenant=park.acme, weight="2.5", actor=park.olga)
    park.acme.refresh_from_db()
    assert park.acme.weight == Decimal("2.5")
    change = QuotaChange.objects.get(tenant=park.acme, field="weight")
    assert (change.old_value, change.new_value) == (Decimal("1"), Decimal("2.5"))
    with pytest.raises(ParkError) as info:
        tenant_set_weight(tenant=park.acme, weight=0, actor=park.olga)
    assert info.value.code == "weight_not_positive"
    park.acme.refresh_from_db()
    assert park.acme.weight == Decimal("2.5")
