"""The operator's admin: catalogue pages, inline quota edits with history, the bulk scale action,
and admin forms that refuse nonsense without saving half of it."""

import datetime as dt
from decimal import Decimal

import pytest
from django.urls import reverse

from booking.tenancy.models import Quota, QuotaChange, Tenant
from resources.models import MaintenanceWindow, TrainingRecord


@pytest.fixture
def operator_client(client, park):
    client.force_login(park.olga)
    return client


@pytest.mark.parametrize(
    "name",
    [
        "resources_resource",
        "resources_location",
        "resources_resourcepool",
        "resources_training",
        "resources_trainingrecord",
        "resources_maintenancewindow",
        "tenancy_tenant",
        "tenancy_quota",
        "tenancy_quotachange",
        "bookings_booking",
        "rounds_allocationround",
        "compute_computejob",
    ],
)
def test_operator_sees_each_admin_list(operator_client, name):
    response = operator_client.get(reverse(f"admin:{name}_changelist"))
    assert response.status_code == 200


def test_resource_page_shows_kind_specific_inlines(operator_client, park):
    line_page = operator_client.get(reverse("admin:resources_resource_change", args=[park.line.pk]))
    assert (
        b"Changeover matrix" in line_page.content
        and b"GPU node attributes" not in line_page.content
    )
    gpu_page = operator_client.get(reverse("admin:resources_resource_change", args=[park.gpu.pk]))
    assert b"GPU node attributes" in gpu_page.content


def _tenant_form(tenant, quotas, **overrides):
    data = {
        "name": tenant.name,
        "slug": tenant.slug,
        "tier": tenant.tier,
        "home_park": tenant.home_park,
        "weight": str(tenant.weight),
        "slurm_account": tenant.slurm_account,
        "active": "on",
        "memberships-TOTAL_FORMS": "0",
        "memberships-INITIAL_FORMS": "0",
        "quotas-TOTAL_FORMS": str(len(quotas)),
        "quotas-INITIAL_FORMS": str(len(quotas)),
        "quota_changes-TOTAL_FORMS": "0",
        "quota_changes-INITIAL_FORMS": "0",
    }
    for i, quota in enumerate(quotas):
        data.update(
            {
                f"quotas-{i}-id": str(quota.pk),
                f"quotas-{i}-tenant": str(tenant.pk),
                f"quotas-{i}-resource_class": quota.resource_class,
                f"quotas-{i}-period": quota.period,
                f"quotas-{i}-hours": str(quota.hours),
            }
        )
    data.update(overrides)
    return data


def test_inline_quota_change_is_saved_and_appears_in_the_history(operator_client, park):
    quotas = list(Quota.objects.filter(tenant=park.acme).order_by("pk"))
    index = next(i for i, q in enumerate(quotas) if q.resource_class == "gpu")
    url = reverse("admin:tenancy_tenant_change", args=[park.acme.pk])
    response = operator_client.post(
        url, _tenant_form(park.acme, quotas, **{f"quotas-{index}-hours": "250"})
    )
    assert response.status_code == 302
    assert Quota.objects.get(pk=quotas[index].pk).hours == Decimal("250")
    change = QuotaChange.objects.get(
        tenant=park.acme, resource_class="gpu", new_value=Decimal("250")
    )
    assert change.changed_by == park.olga and change.old_value == Decimal("100")
    page = operator_client.get(url)
    assert b"Quota and weight history" in page.content and b"250" in page.content


def test_negative_quota_in_the_admin_is_refused_and_nothing_saved(operator_client, park):
    quotas = list(Quota.objects.filter(tenant=park.acme).order_by("pk"))
    url = reverse("admin:tenancy_tenant_change", args=[park.acme.pk])
    response = operator_client.post(
        url, _tenant_form(park.acme, quotas, weight="3", **{"quotas-0-hours": "-5"})
    )
    assert response.status_code == 200
    assert b"A quota cannot be negative." in response.content
    park.acme.refresh_from_db()
    assert park.acme.weight == Decimal("1")
    assert Quota.objects.get(pk=quotas[0].pk).hours == quotas[0].hours


def test_weight_change_in_the_admin_is_audited(operator_client, park):
    quotas = list(Quota.objects.filter(tenant=park.acme).order_by("pk"))
    url = reverse("admin:tenancy_tenant_change", args=[park.acme.pk])
    response = operator_client.post(url, _tenant_form(park.acme, quotas, weight="4"))
    assert response.status_code == 302
    change = QuotaChange.objects.get(tenant=park.acme, field="weight")
    assert change.new_value == Decimal("4") and change.changed_by == park.olga


def test_bulk_action_scales_quotas_of_selected_tenants(operator_client, park):
    url = reverse("admin:tenancy_tenant_changelist")
    confirm = operator_client.post(
        url, {"action": "scale_quotas", "_selected_action": [park.acme.pk]}
    )
    assert confirm.status_code == 200 and b"Scale by" in confirm.content
    done = operator_client.post(
        url,
        {
            "action": "scale_quotas",
            "_selected_action": [park.acme.pk],
            "percent": "-50",
            "apply": "1",
        },
    )
    assert done.status_code == 302
    assert Quota.objects.get(
        tenant=park.acme, resource_class="gpu", period="week"
    ).hours == Decimal("50.00")
    assert Quota.objects.get(
        tenant=park.globex, resource_class="gpu", period="week"
    ).hours == Decimal("100.00")
    assert QuotaChange.objects.filter(tenant=park.acme, note__startswith="scaled").count() == 3


def test_bulk_scale_refuses_out_of_range_percent(operator_client, park):
    url = reverse("admin:tenancy_tenant_changelist")
    response = operator_client.post(
        url,
        {
            "action": "scale_quotas",
            "_selected_action": [park.acme.pk],
            "percent": "-150",
            "apply": "1",
        },
    )
    assert response.status_code == 200
    assert b"greater than or equal to" in response.content
    assert Quota.objects.get(
        tenant=park.acme, resource_class="gpu", period="week"
    ).hours == Decimal("100.00")


def test_admin_refuses_maintenance_ending_before_start(operator_client, park):
    url = reverse("admin:resources_maintenancewindow_add")
    response = operator_client.post(
        url,
        {
            "resource": park.gpu.pk,
            "start_0": "2030-01-02",
            "start_1": "10:00:00",
            "end_0": "2030-01-02",
            "end_1": "09:00:00",
            "reason": "x",
        },
    )
    assert response.status_code == 200
    assert b"must end after it starts" in response.content
    assert not MaintenanceWindow.objects.exists()


def test_admin_refuses_training_record_expiring_before_grant(operator_client, park):
    url = reverse("admin:resources_trainingrecord_add")
    response = operator_client.post(
        url,
        {
            "user": park.bob.pk,
            "training": park.microscopy.pk,
            "granted_on": "2030-01-10",
            "expires_on": "2030-01-01",
        },
    )
    assert response.status_code == 200
    assert b"expiry date must be after the grant date" in response.content
    assert not TrainingRecord.objects.filter(user=park.bob).exists()


def test_admin_refuses_gpu_count_of_zero_and_keeps_the_node(operator_client, park):
    url = reverse("admin:resources_resource_change", args=[park.gpu.pk])
    page = operator_client.get(url)
    form = page.context["adminform"].form
    data = {k: v for k, v in form.initial.items() if v is not None and not isinstance(v, list)}
    data.update(
        {
            "location": park.gpu.location_id,
            "required_training": "",
            "gpu-TOTAL_FORMS": "1",
            "gpu-INITIAL_FORMS": "1",
            "gpu-0-resource": park.gpu.pk,
            "gpu-0-gpu_model": "A100",
            "gpu-0-gpu_count": "0",
            "gpu-0-gpu_memory_gb": "80",
            "gpu-0-cpus": "32",
            "gpu-0-memory_gb": "256",
            "gpu-0-slurm_cluster": "park",
            "gpu-0-slurm_partition": "gpu",
            "gpu-0-slurm_node": "gpu01",
            "maintenance-TOTAL_FORMS": "0",
            "maintenance-INITIAL_FORMS": "0",
            "name": "Renamed",
        }
    )
    response = operator_client.post(url, data)
    assert response.status_code == 200
    assert (
        b"gpu_node_gpu_count_positive" in response.content
        or b"greater than or equal to 1" in response.content
        or b"at least one GPU" in response.content
    )
    park.gpu.refresh_from_db()
    assert park.gpu.name == "A100 node gpu01" and park.gpu.gpu.gpu_count == 4


def test_member_cannot_open_the_admin(client, park):
    client.force_login(park.alice)
    response = client.get(reverse("admin:tenancy_tenant_changelist"))
    assert response.status_code == 302 and "/login/" in response["Location"]


def test_tenants_list_in_admin_has_no_n_plus_one(
    operator_client, park, django_assert_max_num_queries
):
    for i in range(10):
        Tenant.objects.create(
            name=f"T{i}",
            slug=f"t{i}",
            tier="startup",
            home_park="hk",
            weight=1,
            slurm_account=f"t{i}",
        )
    with django_assert_max_num_queries(12):
        operator_client.get(reverse("admin:tenancy_tenant_changelist"))
    _ = dt  # keep the datetime import used by future tests
