"""Several clusters: the registry, routing, data residency (refused before anything is stored),
cross-boundary approvals and GET /clusters per tenant."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

from booking.compute.models import ComputeJob, JobState
from booking.compute.residency import (
    CrossBoundaryApproval,
    TenantDataPolicy,
    approval_grant,
    approval_revoke,
)
from resources.cluster_setup import demo_clusters, hub_from_env
from resources.clusters import Cluster, ClusterState, ClusterUsage, Jurisdiction, default_cluster
from tests.api.conftest import Api, make_token
from tests.compute.test_job_submit import FakeSlurm, refused, submit

pytestmark = pytest.mark.django_db


@pytest.fixture
def hub(park):
    _park, hub = demo_clusters()
    return hub


def test_a_plain_setup_has_the_default_cluster_in_hong_kong(park):
    job = submit(park, FakeSlurm())
    assert job.cluster == default_cluster()
    assert job.cluster.jurisdiction == Jurisdiction.HONG_KONG
    assert job.data_class == "hk_only"  # undeclared data stays in Hong Kong


def test_credentials_are_named_not_stored(park, settings, tmp_path):
    key = tmp_path / "jwt.key"
    key.write_bytes(b"k" * 32)
    hub = hub_from_env(
        {
            "SLURM_HUB_NAME": "gba-hub",
            "SLURM_HUB_CLUSTER": "gbahub",
            "SLURM_HUB_REST_URL": "http://127.0.0.1:1",
            "SLURM_HUB_JWT_KEY_FILE": str(key),
        }
    )
    assert hub.credentials_from == "SLURM_HUB_JWT_KEY_FILE"
    assert str(key) not in str(Cluster.objects.filter(pk=hub.pk).values().first())
    settings.SLURM_HUB_JWT_KEY_FILE = str(key)
    config = hub.slurm_config()
    assert config.jwt_key_file == str(key)
    assert config.cluster == "gbahub"
    assert config.base_url == "http://127.0.0.1:1"


@pytest.mark.parametrize("data_class", ["hk_only", "personal", "cross_boundary_approved"])
def test_data_that_may_not_leave_hong_kong_is_refused_on_the_hub(park, hub, data_class):
    error = refused("data_residency", park, FakeSlurm(), cluster="gba-hub", data_class=data_class)
    assert error.status == 403
    assert error.field == "data_class"
    assert data_class in error.message
    assert "Mainland" in error.message
    assert not ComputeJob.objects.exists()


def test_open_data_may_run_on_the_hub_unless_the_policy_keeps_it_home(park, hub):
    job = submit(park, FakeSlurm(), cluster="gba-hub", data_class="open")
    assert job.cluster == hub
    ComputeJob.objects.all().delete()
    TenantDataPolicy.objects.create(tenant=park.acme, open_data_on_mainland=False)
    refused("data_residency", park, FakeSlurm(), cluster="gba-hub", data_class="open")


def test_a_cross_boundary_approval_lets_approved_data_go_until_it_expires_or_is_revoked(park, hub):
    refused(
        "data_residency", park, FakeSlurm(), cluster="gba-hub", data_class="cross_boundary_approved"
    )
    approval = approval_grant(
        tenant=park.acme,
        by=park.olga,
        expires_at=timezone.now() + dt.timedelta(days=30),
        reference="PCPD-2026-17",
    )
    job = submit(park, FakeSlurm(), cluster="gba-hub", data_class="cross_boundary_approved")
    assert job.cluster == hub
    # Another tenant's approval does not count for Globex.
    with pytest.raises(Exception) as caught:
        submit(
            park,
            FakeSlurm(),
            user=park.charlie,
            tenant=park.globex,
            cluster="gba-hub",
            data_class="cross_boundary_approved",
        )
    assert getattr(caught.value, "code", "") == "data_residency"
    approval_revoke(approval=approval, by=park.olga)
    before = ComputeJob.objects.count()
    with pytest.raises(Exception) as caught:
        submit(park, FakeSlurm(), cluster="gba-hub", data_class="cross_boundary_approved")
    assert caught.value.code == "data_residency"
    assert ComputeJob.objects.count() == before
    # The audit trail stays: who granted, who revoked.
    row = CrossBoundaryApproval.objects.get()
    assert row.granted_by == park.olga and row.revoked_by == park.olga
    expired = approval_grant(
        tenant=park.acme,
        by=park.olga,
        expires_at=timezone.now() + dt.timedelta(seconds=1),
        reference="short",
    )
    CrossBoundaryApproval.objects.filter(pk=expired.pk).update(
        expires_at=timezone.now() - dt.timedelta(seconds=1)
    )
    with pytest.raises(Exception) as caught:
        submit(park, FakeSlurm(), cluster="gba-hub", data_class="cross_boundary_approved")
    assert caught.value.code == "data_residency"


def test_routing_prefers_the_park_and_overflows_to_the_hub_when_its_queue_is_deep(park, hub):
    fake = FakeSlurm(*range(1, 100))
    routed = [
        submit(park, fake, data_class="open", gpus=0) for _ in range(hub.overflow_queue_depth)
    ]
    assert {j.cluster.name for j in routed} == {default_cluster().name}
    # The park's own cluster has overflow_queue_depth jobs waiting in "gpu": the hub takes the next.
    assert submit(park, fake, data_class="open", gpus=0).cluster == hub
    # Data that may not leave Hong Kong waits at home however deep the queue.
    assert submit(park, fake, data_class="hk_only", gpus=0).cluster == default_cluster()


def test_an_on_request_or_down_cluster_is_never_routed_to(park, hub):
    fake = FakeSlurm(*range(1, 100))
    Cluster.objects.filter(pk=hub.pk).update(usage=ClusterUsage.ON_REQUEST, overflow_queue_depth=0)
    assert submit(park, fake, data_class="open").cluster == default_cluster()
    assert submit(park, fake, data_class="open", cluster="gba-hub").cluster == hub
    Cluster.objects.filter(pk=hub.pk).update(state=ClusterState.DRAINING)
    refused_count = ComputeJob.objects.count()
    with pytest.raises(Exception) as caught:
        submit(park, fake, data_class="open", cluster="gba-hub")
    assert caught.value.code == "cluster_not_taking_jobs"
    assert ComputeJob.objects.count() == refused_count


def test_a_tenant_limited_to_some_clusters(park, hub):
    policy = TenantDataPolicy.objects.create(tenant=park.acme, default_data_class="open")
    policy.allowed_clusters.add(hub)
    job = submit(park, FakeSlurm())  # routed: the hub is the only cluster Acme may use
    assert job.cluster == hub and job.data_class == "open"
    ComputeJob.objects.all().delete()
    refused("cluster_not_allowed", park, FakeSlurm(), cluster=default_cluster().name)
    refused("unknown_cluster", park, FakeSlurm(), cluster="atlantis")


def test_one_row_per_cluster_and_slurm_id(park, hub):
    from django.db import IntegrityError, transaction

    fake = FakeSlurm(*range(1, 100))
    a = submit(park, fake, data_class="open")
    b = submit(park, fake, data_class="open", cluster="gba-hub")
    ComputeJob.objects.filter(pk__in=[a.pk, b.pk]).update(slurm_job_id=7, state=JobState.PENDING)
    c = submit(park, fake, data_class="open")
    with pytest.raises(IntegrityError), transaction.atomic():
        ComputeJob.objects.filter(pk=c.pk).update(slurm_job_id=7)


def test_clusters_api_lists_clusters_and_what_the_caller_may_run_there(park, hub):
    TenantDataPolicy.objects.create(tenant=park.globex, open_data_on_mainland=False)
    approval_grant(
        tenant=park.acme,
        by=park.olga,
        expires_at=timezone.now() + dt.timedelta(days=3),
        reference="x",
    )
    alice = Api(make_token(park.alice, park.acme)).get("/clusters")
    charlie = Api(make_token(park.charlie, park.globex)).get("/clusters")
    assert alice.status_code == 200 and charlie.status_code == 200
    by_name = {c["name"]: c for c in alice.json()}
    assert by_name["gba-hub"]["jurisdiction"] == "mainland"
    assert by_name["gba-hub"]["state"] == "up"
    assert set(by_name["gba-hub"]["data_classes"]) == {"open", "cross_boundary_approved"}
    # Acme's approval is not Globex's; Globex keeps open data home too.
    assert {c["name"]: c for c in charlie.json()}["gba-hub"]["data_classes"] == []
    assert Api(None).get("/clusters").status_code == 401


def test_jobs_api_takes_cluster_and_data_class_and_refuses_with_data_residency(park, hub):
    api = Api(make_token(park.alice, park.acme))
    body = {
        "name": "t",
        "script": "#!/bin/bash\ntrue\n",
        "partition": "gpu",
        "time_limit_minutes": 5,
        "cluster": "gba-hub",
        "data_class": "personal",
    }
    answer = api.post("/jobs", body)
    assert answer.status_code == 403
    assert answer.json()["code"] == "data_residency"
    assert "personal" in answer.json()["message"]
    assert not ComputeJob.objects.exists()
    answer = api.post("/jobs", {**body, "data_class": "secret"})
    assert answer.status_code == 422
    assert not ComputeJob.objects.exists()
