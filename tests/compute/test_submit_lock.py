"""The tenant lock of a job submission on PostgreSQL: submissions of one tenant take turns (two at
once never overrun its quota), while a transaction adding a row that refers to the tenant
neither waits for a submission nor holds one up."""

from __future__ import annotations

import threading

import pytest
from django.contrib.auth import get_user_model
from django.db import connection, connections, transaction

from booking.compute.models import ComputeJob
from booking.errors import ParkError
from booking.tenancy.models import Membership, Period
from booking.tenancy.services import quota_set
from resources.models import ResourceKind
from tests.compute.test_job_submit import FakeSlurm, submit

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def no_send(monkeypatch):
    # The jobs' send tasks are not the subject here.
    monkeypatch.setattr("booking.compute.services._start_send_task", lambda job_id, **kw: None)


def test_a_transaction_adding_a_member_does_not_wait_for_a_submission_in_progress(park, no_send):
    """The member's foreign key is checked when its transaction commits (Django's constraints
    are deferred): it takes FOR KEY SHARE on the tenant's row, which FOR UPDATE would make
    wait for the submission; FOR NO KEY UPDATE does not."""
    from booking.compute.services import _lock_tenant_reading_quotas

    outcome: list[object] = []

    def add_member() -> None:
        try:
            with connection.cursor() as cursor:
                cursor.execute("SET lock_timeout = '2s'")
            with transaction.atomic():
                newcomer = get_user_model().objects.create_user("dora", "dora@acme.example", "pw")
                Membership.objects.create(user=newcomer, tenant=park.acme, cluster_username="dora")
            outcome.append("committed")
        except BaseException as error:  # reported below
            outcome.append(error)
        finally:
            connections.close_all()

    with transaction.atomic():
        _lock_tenant_reading_quotas(park.acme)  # a submission holding its tenant's lock
        other = threading.Thread(target=add_member)
        other.start()
        other.join(10)
        assert outcome == ["committed"], outcome
    assert Membership.objects.filter(user__username="dora", tenant=park.acme).exists()


def test_two_submissions_at_once_never_overrun_the_quota(park, no_send):
    # One GPU-hour left this week: only one of two one-hour jobs fits.
    quota_set(tenant=park.acme, resource_class=ResourceKind.GPU_NODE, period=Period.WEEK, hours=1)
    barrier = threading.Barrier(2)
    outcomes: list[str] = []

    def one() -> None:
        try:
            barrier.wait(10)
            submit(park, FakeSlurm(), gpus=1, time_limit_minutes=60)
            outcomes.append("stored")
        except ParkError as error:
            outcomes.append(error.code)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=one) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(outcomes) == ["quota_exceeded", "stored"]
    assert ComputeJob.objects.filter(tenant=park.acme).count() == 1
