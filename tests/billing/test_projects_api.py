"""A booking or a job names the project it is charged to: the tenant's own (default if none);
a project of another tenant is refused with a field error and nothing is stored."""

from __future__ import annotations

import pytest

from booking.billing import services
from booking.billing.models import BookingProject, JobProject
from booking.bookings.models import Booking
from booking.compute.models import ComputeJob
from tests.api.conftest import assert_error, unreachable_cluster
from tests.api.test_bookings import gpu_booking
from tests.api.test_jobs import job

no_cluster = unreachable_cluster


@pytest.fixture
def projects(park):
    mine = services.project_create(
        tenant=park.acme, name="Wafer study", principal_investigator="Dr Chan"
    )
    theirs = services.project_create(
        tenant=park.globex, name="Secret", principal_investigator="Dr Lee"
    )
    return mine, theirs


def test_a_booking_is_charged_to_the_project_it_names(park, alice_api, projects):
    mine, _theirs = projects
    response = alice_api.post("/bookings", gpu_booking(project=mine.pk))
    assert response.status_code == 201, response.content
    booking = Booking.objects.get(pk=response.json()["id"])
    assert BookingProject.objects.get(booking=booking).project == mine


def test_without_a_project_the_default_is_charged(park, alice_api, projects):
    response = alice_api.post("/bookings", gpu_booking())
    assert response.status_code == 201, response.content
    assert not BookingProject.objects.exists()  # no link: the default project is charged


def test_another_tenants_project_is_refused_and_nothing_is_stored(park, alice_api, projects):
    _mine, theirs = projects
    body = assert_error(
        alice_api.post("/bookings", gpu_booking(project=theirs.pk)),
        422,
        "unknown_project",
        "project",
    )
    assert "Secret" not in body["message"]
    assert not Booking.objects.exists() and not BookingProject.objects.exists()
    assert_error(
        alice_api.post("/bookings", gpu_booking(project=999999)), 422, "unknown_project", "project"
    )


def test_a_closed_project_is_refused(park, alice_api, projects):
    mine, _theirs = projects
    mine.active = False
    mine.save()
    assert_error(
        alice_api.post("/bookings", gpu_booking(project=mine.pk)),
        422,
        "project_inactive",
        "project",
    )
    assert not Booking.objects.exists()


@pytest.mark.usefixtures("no_cluster")
def test_a_job_is_charged_to_its_project_and_another_tenants_is_refused(park, alice_api, projects):
    mine, theirs = projects
    response = alice_api.post("/jobs", job(project=mine.pk))
    assert response.status_code == 201, response.content
    assert JobProject.objects.get(job_id=response.json()["id"]).project == mine
    assert_error(alice_api.post("/jobs", job(project=theirs.pk)), 422, "unknown_project", "project")
    assert ComputeJob.objects.count() == 1 and JobProject.objects.count() == 1
