"""Approvals beside rounds and the database: a round's grant on a resource needing approval
waits like an instant booking (a denial hands the time to the round's waitlist); on
PostgreSQL the no-overlap constraint holds a waiting request's slot too."""

from __future__ import annotations

import datetime as dt

import pytest
from django.db import IntegrityError, transaction

from booking.approvals.services import approval_deny
from booking.bookings import hooks
from booking.bookings.models import Booking, BookingStatus
from booking.rounds.outcomes import Outcome, booking_apply_outcome

from .conftest import at, request_confocal


@pytest.fixture
def cancel_calls():
    calls = []

    def record(**kwargs):
        calls.append(kwargs)

    hooks.on_booking_cancelled(record)
    yield calls
    hooks._cancel_handlers.remove(record)


def test_a_round_grant_on_a_resource_needing_approval_waits_and_a_denial_frees_it(
    approvals, cancel_calls, django_capture_on_commit_callbacks
):
    park = approvals.park
    request = Booking.objects.create(
        tenant=park.acme,
        user=park.alice,
        resource=park.xrd,
        title="Powder scan",
        earliest_start=at(3, 8),
        latest_end=at(3, 18),
        duration_minutes=120,
        status=BookingStatus.REQUESTED,
    )
    start = at(3, 10)
    outcome = Outcome(request.pk, True, "granted", {}, "xrd", start, start + dt.timedelta(hours=2))
    granted = booking_apply_outcome(booking=request, outcome=outcome, resource=park.xrd)
    assert granted.status == BookingStatus.PENDING_APPROVAL
    assert (granted.start, granted.reason_code) == (start, "granted")  # the planner's reason stays
    with django_capture_on_commit_callbacks(execute=True):
        approval_deny(user=approvals.victor, booking_id=granted.pk, reason="Detector out")
    assert {"booking_id": granted.pk, "round_id": None, "was_holding": True} in cancel_calls


@pytest.mark.postgres
def test_postgres_refuses_an_overlap_with_a_waiting_request(approvals):
    park = approvals.park
    waiting = request_confocal(park)
    assert waiting.status == BookingStatus.PENDING_APPROVAL
    with pytest.raises(IntegrityError), transaction.atomic():
        Booking.objects.create(
            tenant=park.globex,
            user=park.charlie,
            resource=park.confocal,
            title="Sneaked in",
            start=waiting.start,
            end=waiting.end,
            status=BookingStatus.CONFIRMED,
        )
