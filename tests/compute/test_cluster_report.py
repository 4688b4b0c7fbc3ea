"""The operators' report of runs by cluster, tenant, data class and month (page and CSV)."""

from __future__ import annotations

import csv
import io
from decimal import Decimal

import pytest
from django.test import Client
from django.utils import timezone

from booking.compute.models import ComputeJob, JobState
from resources.cluster_setup import demo_clusters
from tests.compute.test_job_submit import FakeSlurm, submit

pytestmark = pytest.mark.django_db


@pytest.fixture
def runs(park):
    _home, hub = demo_clusters()
    fake = FakeSlurm(*range(1, 50))
    a = submit(park, fake, data_class="open", cluster="gba-hub")
    b = submit(park, fake, user=park.charlie, tenant=park.globex, data_class="hk_only")
    unsent = submit(park, fake, data_class="open", cluster="gba-hub")
    now = timezone.now()
    ComputeJob.objects.filter(pk__in=[a.pk, b.pk]).update(
        state=JobState.COMPLETED, submitted_at=now, gpu_hours=2.5
    )
    return park, a, b, unsent


def client_for(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def test_operators_see_runs_by_cluster_tenant_class_and_month_and_export_csv(runs):
    park, a, b, _unsent = runs
    page = client_for(park.olga).get("/reports/clusters/")
    assert page.status_code == 200
    text = page.content.decode()
    assert "gba-hub" in text and "Acme Robotics" in text and "Globex Materials" in text
    answer = client_for(park.olga).get("/reports/clusters/?export=csv")
    assert answer["Content-Type"].startswith("text/csv")
    rows = list(csv.reader(io.StringIO(answer.content.decode())))
    month = f"{timezone.now():%Y-%m}"
    body = {(r[0], r[1], r[3], r[4]): (r[5], Decimal(r[6]), r[7]) for r in rows[1:]}
    assert body[(month, "gba-hub", "Acme Robotics", "open")] == ("1", Decimal("2.5"), "0.800")
    assert (month, b.cluster.name, "Globex Materials", "hk_only") in body
    assert len(rows) == 3  # the job never sent is not a run


def test_members_and_managers_may_not_see_the_report(runs):
    park = runs[0]
    for user in (park.alice, park.bob, park.charlie):
        assert client_for(user).get("/reports/clusters/").status_code == 403
        assert client_for(user).get("/reports/clusters/?export=csv").status_code == 403
    assert Client().get("/reports/clusters/").status_code == 302


def test_a_bad_month_is_named_not_a_500(runs):
    page = client_for(runs[0].olga).get("/reports/clusters/?start=20x6-01&end=0001-01")
    assert page.status_code == 200
    assert "a month as YYYY-MM" in page.content.decode()


def test_the_report_is_translated(runs):
    client = client_for(runs[0].olga)
    page = client.get("/reports/clusters/", headers={"accept-language": "zh-hant"})
    text = page.content.decode()
    assert "各叢集運行情況" in text
    assert "Runs by cluster" not in text
