"""POST /jobs refuses an unbooked job that cannot start outside the partition's booked windows
within SLURM_UNRESERVED_HORIZON_HOURS (409 no_unreserved_capacity); nothing is stored then.

Bookings are whole-node Slurm reservations; a job naming no booking runs in none of them, the
tenant's own included (Slurm only lets a job into a reservation it names)."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

from booking.compute.models import ComputeJob
from booking.compute.unreserved import first_fit
from booking.tenancy.selectors import used_hours
from resources.models import ResourceKind
from tests.api.conftest import assert_error

SCRIPT = "#!/bin/bash\nnvidia-smi\n"


@pytest.fixture(autouse=True)
def no_cluster(unreachable_cluster, settings):
    # The test park's GPU nodes are on the cluster "park"; a developer's or CI's dev-cluster
    # environment (SLURM_CLUSTER=parkdev) must not route these jobs elsewhere.
    settings.SLURM_CLUSTER = "park"
    return unreachable_cluster


def job(**extra):
    return {
        "name": "train",
        "script": SCRIPT,
        "partition": "gpu",
        "gpus": 1,
        "time_limit_minutes": 180,
        **extra,
    }


def book(park, *, user, tenant, hours_from_now=2, length_hours=4, resource=None):
    from booking.bookings.services import booking_create_instant

    start = timezone.now().replace(minute=0, second=0, microsecond=0) + dt.timedelta(
        hours=hours_from_now
    )
    return booking_create_instant(
        user=user,
        tenant=tenant,
        resource=resource or park.gpu,
        start=start,
        end=start + dt.timedelta(hours=length_hours),
        units=1,
        title="reserved",
    )


def second_node(park, *, gpus):
    from resources.services import gpu_node_create

    return gpu_node_create(
        name="A100 node gpu02",
        slug="gpu02",
        location=park.gpu.location,
        gpu_model="A100",
        gpu_count=gpus,
        gpu_memory_gb=80,
        cpus=32,
        memory_gb=256,
        slurm_cluster="park",
        slurm_partition="gpu",
        slurm_node="gpu02",
        min_length_minutes=60,
        max_length_minutes=24 * 60,
        slot_minutes=60,
        horizon_days=28,
    )


def held(park):
    now = timezone.now()
    return used_hours(
        tenant=park.acme,
        resource_class=ResourceKind.GPU_NODE,
        start=now - dt.timedelta(days=7),
        end=now + dt.timedelta(days=7),
    )


def test_a_job_overlapping_another_tenants_window_beyond_the_horizon_is_refused(
    park, alice_api, settings
):
    settings.SLURM_UNRESERVED_HORIZON_HOURS = 1
    booking = book(park, user=park.charlie, tenant=park.globex)
    before = held(park)
    response = alice_api.post("/jobs", job(), headers={"Idempotency-Key": "refused-1"})
    assert_error(response, 409, "no_unreserved_capacity", "time_limit_minutes")
    body = response.json()
    assert body["params"]["partition"] == "gpu" and body["params"]["hours"] == 1
    # The first window it fits: from the booking's end, for its time limit.
    assert body["params"]["start"] == booking.end.isoformat(timespec="minutes")
    assert "gpu" in body["message"] and "within the next 1 h;" in body["message"]
    assert not ComputeJob.objects.exists()
    assert held(park) == before


def test_within_the_default_horizon_the_same_job_is_taken_and_waits_in_slurm(park, alice_api):
    book(park, user=park.charlie, tenant=park.globex)
    assert alice_api.post("/jobs", job()).status_code == 201


def test_a_job_that_ends_before_the_window_starts_is_taken(park, alice_api, settings):
    settings.SLURM_UNRESERVED_HORIZON_HOURS = 0.5
    book(park, user=park.charlie, tenant=park.globex, hours_from_now=3)
    # At least 2 h from now until the booking begins (it starts on the hour): 60 minutes fit.
    response = alice_api.post("/jobs", job(time_limit_minutes=60))
    assert response.status_code == 201, response.content
    assert_error(
        alice_api.post("/jobs", job(time_limit_minutes=4 * 60)), 409, "no_unreserved_capacity"
    )
    assert ComputeJob.objects.count() == 1


def test_another_free_node_of_the_partition_takes_it(park, alice_api, settings):
    settings.SLURM_UNRESERVED_HORIZON_HOURS = 1
    second_node(park, gpus=2)
    book(park, user=park.charlie, tenant=park.globex)
    assert alice_api.post("/jobs", job(gpus=2)).status_code == 201
    # gpu02 has 2 GPUs: a 4-GPU job only fits on the booked gpu01.
    assert_error(alice_api.post("/jobs", job(gpus=4)), 409, "no_unreserved_capacity")


def test_the_own_tenants_booking_blocks_an_unbooked_job_but_not_one_in_the_booking(
    park, alice_api, settings
):
    settings.SLURM_UNRESERVED_HORIZON_HOURS = 1
    booking = book(park, user=park.alice, tenant=park.acme)
    response = alice_api.post("/jobs", job())
    assert_error(response, 409, "no_unreserved_capacity")
    assert response.json()["params"]["own_booking_in_the_way"] is True
    inside = alice_api.post("/jobs", job(partition=None, booking=booking.pk))
    assert inside.status_code == 201, inside.content


def test_cancelled_bookings_and_other_partitions_do_not_block(park, alice_api, settings):
    from booking.bookings.services import booking_cancel

    settings.SLURM_UNRESERVED_HORIZON_HOURS = 1
    booking = book(park, user=park.charlie, tenant=park.globex)
    booking_cancel(user=park.charlie, booking=booking)
    assert alice_api.post("/jobs", job()).status_code == 201
    book(park, user=park.charlie, tenant=park.globex, hours_from_now=6)
    assert alice_api.post("/jobs", job(partition="cpu", gpus=0)).status_code == 201
    # An inactive tenant's booking is no reservation in Slurm (slurm_state leaves it out).
    book(park, user=park.charlie, tenant=park.globex)
    park.globex.__class__.objects.filter(pk=park.globex.pk).update(active=False)
    assert alice_api.post("/jobs", job()).status_code == 201


def test_first_fit_skips_back_to_back_windows():
    t = dt.datetime(2026, 1, 1, 8, tzinfo=dt.UTC)
    hour = dt.timedelta(hours=1)
    busy = [(t + 3 * hour, t + 5 * hour), (t, t + 2 * hour), (t + 2 * hour, t + 3 * hour)]
    assert first_fit(busy, length=hour, now=t) == t + 5 * hour
    assert first_fit(busy, length=hour, now=t - hour) == t - hour
    assert first_fit([], length=hour, now=t) == t
