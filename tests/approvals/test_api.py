"""The approvals over the API: a booking of a resource needing approval answers 201
``pending_approval``; approvers list and decide with stable error codes; nobody else can."""

from __future__ import annotations

import pytest

from booking.bookings.models import BookingEvent, BookingStatus
from tests.api.conftest import Api, assert_error, make_token, next_hour

from .conftest import request_confocal


@pytest.fixture
def stella_api(approvals) -> Api:
    return Api(make_token(approvals.stella, approvals.staff))


@pytest.fixture
def victor_api(approvals) -> Api:
    return Api(make_token(approvals.victor, approvals.staff))


@pytest.fixture
def alice_api(approvals) -> Api:
    return Api(make_token(approvals.park.alice, approvals.park.acme))


@pytest.fixture
def charlie_api(approvals) -> Api:
    return Api(make_token(approvals.park.charlie, approvals.park.globex))


def test_booking_a_resource_needing_approval_answers_201_pending_approval(alice_api):
    start = next_hour(days=2, hour=10)
    answer = alice_api.post(
        "/bookings",
        {
            "resource": "confocal-1",
            "start": start.isoformat(),
            "end": start.replace(hour=11).isoformat(),
            "title": "Live imaging",
        },
    )
    assert answer.status_code == 201, answer.content
    body = answer.json()
    assert (body["status"], body["reason_code"]) == ("pending_approval", "approval_pending")
    listed = alice_api.get("/bookings", {"status": "pending_approval"}).json()
    assert [b["id"] for b in listed["items"]] == [body["id"]]


def test_the_approver_lists_and_approves(approvals, stella_api):
    booking = request_confocal(approvals.park)
    listed = stella_api.get("/approvals").json()
    assert [(b["id"], b["requester_name"], b["tenant_name"]) for b in listed["items"]] == [
        (booking.pk, "Alice", "Acme Robotics")
    ]
    answer = stella_api.post(f"/approvals/{booking.pk}/approve", {"note": "OK"})
    assert answer.status_code == 200, answer.content
    assert (answer.json()["status"], answer.json()["reason_code"]) == ("confirmed", "approved")
    assert stella_api.get("/approvals").json()["items"] == []
    again = stella_api.post(f"/approvals/{booking.pk}/approve", {})
    assert_error(again, 409, "not_pending", "booking")


def test_a_denial_needs_a_reason_named_in_the_error_and_changes_nothing(approvals, stella_api):
    booking = request_confocal(approvals.park)
    events = BookingEvent.objects.count()
    for body in ({}, {"reason": "  "}):
        answer = stella_api.post(f"/approvals/{booking.pk}/deny", body)
        assert_error(answer, 422, "reason_required", "reason")
    booking.refresh_from_db()
    assert booking.status == BookingStatus.PENDING_APPROVAL
    assert BookingEvent.objects.count() == events
    denied = stella_api.post(f"/approvals/{booking.pk}/deny", {"reason": "Laser service"})
    assert denied.status_code == 200, denied.content
    assert (denied.json()["status"], denied.json()["reason_text"]) == ("refused", "Laser service")


def test_no_one_else_sees_or_decides_a_request(approvals, victor_api, charlie_api, alice_api):
    booking = request_confocal(approvals.park)
    for api in (victor_api, charlie_api, alice_api):
        assert api.get("/approvals").json()["items"] == []
        assert_error(api.post(f"/approvals/{booking.pk}/approve", {}), 404, "not_found")
        assert_error(api.post(f"/approvals/{booking.pk}/deny", {"reason": "x"}), 404, "not_found")
    booking.refresh_from_db()
    assert booking.status == BookingStatus.PENDING_APPROVAL
