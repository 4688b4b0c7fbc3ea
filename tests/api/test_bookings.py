"""Bookings and round requests through the API: create, list, read, cancel, idempotency."""

from __future__ import annotations

import datetime as dt

import pytest

from booking.bookings.models import Booking, BookingStatus
from booking.tokens.models import IdempotencyRecord
from tests.api.conftest import Api, assert_error, make_token, next_hour
from tests.rounds import round_fixtures
from tests.rounds.round_fixtures import at

week_round = round_fixtures.week_round


def gpu_booking(start=None, hours=2, **extra):
    start = start or next_hour()
    return {
        "resource": "gpu01",
        "title": "fine-tune",
        "units": 1,
        "start": start.isoformat(),
        "end": (start + dt.timedelta(hours=hours)).isoformat(),
        **extra,
    }


def test_instant_booking_is_confirmed(alice_api, park):
    response = alice_api.post("/bookings", gpu_booking())
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["status"] == "confirmed"
    assert body["tenant"] == "acme" and body["user"] == "alice" and body["resource"] == "gpu01"
    assert Booking.objects.get().status == BookingStatus.CONFIRMED


def test_a_refused_booking_lists_every_broken_rule_and_writes_nothing(alice_api, park):
    start = next_hour(days=60)  # beyond the 28-day horizon…
    body = assert_error(alice_api.post("/bookings", gpu_booking(start, hours=30, units=9)), 400)
    codes = {e["code"] for e in body["details"]}
    assert {"units_over_capacity", "beyond_horizon", "too_long"} <= codes
    assert not Booking.objects.exists()


def test_booking_without_training_is_refused_with_403(park, bob_api):
    start = next_hour(days=1, hour=10)
    body = assert_error(
        bob_api.post(
            "/bookings",
            {
                "resource": "confocal-1",
                "title": "imaging",
                "start": start.isoformat(),
                "end": (start + dt.timedelta(hours=1)).isoformat(),
            },
        ),
        403,
        "training_required",
        "resource",
    )
    assert body["details"]


def test_taken_slot_is_409(alice_api, charlie_api):
    start = next_hour(days=1, hour=10)
    payload = {
        "resource": "confocal-1",
        "title": "imaging",
        "start": start.isoformat(),
        "end": (start + dt.timedelta(hours=1)).isoformat(),
    }
    assert charlie_api.post("/bookings", payload).status_code == 201
    assert_error(alice_api.post("/bookings", payload), 409, "slot_taken", "start")


@pytest.mark.parametrize(
    "change, field",
    [
        ({"units": 0}, "units"),
        ({"units": 10**20}, "units"),
        ({"units": "two"}, "units"),
        ({"title": ""}, "title"),
        ({"title": "x" * 201}, "title"),
        ({"start": "tomorrow"}, "start"),
        ({"start": "2026-11-30T10:00:00"}, "start"),  # no time zone
        ({"resource": "no such/slug"}, "resource"),
        ({"priority": 1000}, "priority"),
        ({"surprise": 1}, "surprise"),
    ],
)
def test_bad_input_is_422_naming_the_field(alice_api, change, field):
    assert_error(
        alice_api.post("/bookings", gpu_booking(**{}) | change),
        422,
        "validation_error",
        field,
    )
    assert not Booking.objects.exists()


def test_unknown_resource_or_recipe_is_422(alice_api):
    assert_error(
        alice_api.post("/bookings", gpu_booking(resource="nope")),
        422,
        "unknown_resource",
        "resource",
    )
    assert_error(
        alice_api.post("/bookings", gpu_booking(recipe="sic")), 422, "unknown_recipe", "recipe"
    )
    assert_error(
        alice_api.post("/bookings", gpu_booking(pool="any-a100")),
        422,
        "resource_or_pool",
        "resource",
    )


def test_fields_of_the_other_way_to_book_are_refused(alice_api, week_round):
    assert_error(
        alice_api.post("/bookings", gpu_booking(duration_minutes=60)),
        422,
        "field_not_applicable",
        "duration_minutes",
    )
    start = at(week_round, 0, 8)
    assert_error(
        alice_api.post(
            "/bookings",
            {
                "resource": "xrd",
                "title": "diffraction",
                "start": start.isoformat(),
                "earliest_start": start.isoformat(),
                "latest_end": at(week_round, 0, 20).isoformat(),
                "duration_minutes": 240,
            },
        ),
        422,
        "field_not_applicable",
        "start",
    )


def test_round_booked_resource_becomes_a_round_request(alice_api, park, week_round):
    response = alice_api.post(
        "/bookings",
        {
            "resource": "xrd",
            "title": "diffraction",
            "earliest_start": at(week_round, 0, 8).isoformat(),
            "latest_end": at(week_round, 0, 20).isoformat(),
            "duration_minutes": 240,
            "priority": 2,
        },
    )
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["status"] == "requested"
    assert body["round"] == week_round.pk
    assert body["duration_minutes"] == 240 and body["priority"] == 2
    assert body["start"] is None


def test_pool_request_goes_to_the_round_service(alice_api, week_round):
    # The A100 pool's members are booked instantly, so the rounds service refuses it.
    body = assert_error(
        alice_api.post(
            "/bookings",
            {
                "pool": "any-a100",
                "title": "any gpu",
                "earliest_start": at(week_round, 0, 8).isoformat(),
                "latest_end": at(week_round, 0, 20).isoformat(),
                "duration_minutes": 120,
            },
        ),
        400,
        "not_round_booked",
    )
    assert body["field"] == "resource"


def test_round_request_for_a_line_needs_a_recipe(alice_api, week_round):
    payload = {
        "resource": "epi",
        "title": "SiC run",
        "earliest_start": at(week_round, 0, 0).isoformat(),
        "latest_end": at(week_round, 2, 0).isoformat(),
        "duration_minutes": 480,
    }
    assert_error(alice_api.post("/bookings", payload), 400, "recipe_required", "recipe")
    response = alice_api.post("/bookings", payload | {"recipe": "sic"})
    assert response.status_code == 201, response.content
    assert response.json()["recipe"] == "sic"


# ---------------------------------------------------------------- idempotency


def test_retry_with_the_same_idempotency_key_returns_the_first_answer(alice_api):
    payload = gpu_booking()
    headers = {"Idempotency-Key": "7b3e-retry-1"}
    first = alice_api.post("/bookings", payload, headers=headers)
    second = alice_api.post("/bookings", payload, headers=headers)
    assert first.status_code == second.status_code == 201
    assert first.json() == second.json()
    assert second["Idempotent-Replayed"] == "true"
    assert Booking.objects.count() == 1


def test_a_refusal_is_replayed_too(alice_api):
    payload = gpu_booking(units=9)
    headers = {"Idempotency-Key": "refused-once"}
    first = alice_api.post("/bookings", payload, headers=headers)
    second = alice_api.post("/bookings", payload, headers=headers)
    assert first.status_code == second.status_code == 400
    assert first.json() == second.json()
    assert not Booking.objects.exists()


def test_same_key_with_a_different_body_is_refused(alice_api):
    headers = {"Idempotency-Key": "k1"}
    assert alice_api.post("/bookings", gpu_booking(), headers=headers).status_code == 201
    other = gpu_booking(next_hour(days=2))
    assert_error(
        alice_api.post("/bookings", other, headers=headers),
        422,
        "idempotency_key_reused",
        "Idempotency-Key",
    )
    assert Booking.objects.count() == 1


def test_idempotency_keys_are_per_user(alice_api, park):
    headers = {"Idempotency-Key": "shared-key"}
    bob = Api(make_token(park.bob, park.acme))
    assert alice_api.post("/bookings", gpu_booking(), headers=headers).status_code == 201
    assert bob.post("/bookings", gpu_booking(), headers=headers).status_code == 201
    assert Booking.objects.count() == 2
    assert IdempotencyRecord.objects.count() == 2


def test_bad_idempotency_key_is_422(alice_api):
    assert_error(
        alice_api.post("/bookings", gpu_booking(), headers={"Idempotency-Key": "x" * 201}),
        422,
        "validation_error",
        "Idempotency-Key",
    )


# ---------------------------------------------------------------- list, read, cancel


def test_list_is_paginated_in_a_stable_order(alice_api):
    for day in range(1, 6):
        assert alice_api.post("/bookings", gpu_booking(next_hour(days=day))).status_code == 201
    first = alice_api.get("/bookings", {"limit": 2}).json()
    rest = alice_api.get("/bookings", {"limit": 10, "offset": 2}).json()
    assert first["count"] == 5
    starts = [b["start"] for b in first["items"] + rest["items"]]
    assert len(set(starts)) == 5
    assert starts == sorted(starts, reverse=True)
    again = alice_api.get("/bookings", {"limit": 2}).json()
    assert again["items"] == first["items"]


def test_list_filters_by_status_and_refuses_unknown_ones(alice_api):
    created = alice_api.post("/bookings", gpu_booking()).json()
    alice_api.post(f"/bookings/{created['id']}/cancel")
    alice_api.post("/bookings", gpu_booking(next_hour(days=2)))
    confirmed = alice_api.get("/bookings", {"status": "confirmed"}).json()
    assert confirmed["count"] == 1
    both = alice_api.client.get(
        "/api/v1/bookings?status=confirmed&status=cancelled",
        headers={"Authorization": f"Bearer {alice_api.secret}"},
    ).json()
    assert both["count"] == 2
    assert_error(alice_api.get("/bookings", {"status": "lost"}), 422, "validation_error", "status")


def test_manager_may_list_the_whole_tenant_but_a_member_may_not(alice_api, bob_api):
    alice_api.post("/bookings", gpu_booking())
    assert bob_api.get("/bookings").json()["count"] == 0
    assert bob_api.get("/bookings", {"whole_tenant": "true"}).json()["count"] == 1
    assert_error(alice_api.get("/bookings", {"whole_tenant": "true"}), 404)


def test_read_own_booking(alice_api):
    created = alice_api.post("/bookings", gpu_booking()).json()
    assert alice_api.get(f"/bookings/{created['id']}").json() == created


def test_charlie_gets_404_for_alices_booking(alice_api, charlie_api):
    created = alice_api.post("/bookings", gpu_booking()).json()
    assert_error(charlie_api.get(f"/bookings/{created['id']}"), 404, "not_found")
    assert_error(charlie_api.post(f"/bookings/{created['id']}/cancel"), 404, "not_found")
    assert charlie_api.get("/bookings").json()["count"] == 0
    assert Booking.objects.get().status == BookingStatus.CONFIRMED


def test_a_token_sees_only_its_own_tenants_bookings(alice_api, park):
    from booking.tenancy.models import Membership

    Membership.objects.create(user=park.alice, tenant=park.globex)
    created = alice_api.post("/bookings", gpu_booking()).json()
    globex_token = Api(make_token(park.alice, park.globex))
    assert_error(globex_token.get(f"/bookings/{created['id']}"), 404)
    assert globex_token.get("/bookings").json()["count"] == 0


def test_huge_or_malformed_ids_are_422(alice_api):
    assert_error(alice_api.get(f"/bookings/{10**30}"), 422, "validation_error", "booking_id")
    assert_error(alice_api.get("/bookings/abc"), 422, "validation_error", "booking_id")
    assert_error(alice_api.get("/bookings/999999"), 404, "not_found")


def test_cancel_a_booking(alice_api):
    created = alice_api.post("/bookings", gpu_booking()).json()
    response = alice_api.post(f"/bookings/{created['id']}/cancel")
    assert response.status_code == 200
    assert response.json()["status"] == "cancelled"
    assert_error(alice_api.post(f"/bookings/{created['id']}/cancel"), 409, "transition_not_allowed")


def test_member_cannot_cancel_a_colleagues_booking(alice_api, park):
    created = alice_api.post("/bookings", gpu_booking()).json()
    bob = Api(make_token(park.bob, park.acme))  # bob manages Acme: he may
    assert bob.post(f"/bookings/{created['id']}/cancel").json()["status"] == "cancelled"


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_concurrent_retries_with_one_key_create_one_booking(park):
    import threading

    from django.db import connections

    secret = make_token(park.alice, park.acme)
    payload = gpu_booking()
    answers = []
    barrier = threading.Barrier(6)

    def send():
        try:
            api = Api(secret)
            barrier.wait()
            response = api.post("/bookings", payload, headers={"Idempotency-Key": "race-1"})
            answers.append((response.status_code, response.json()))
        finally:
            connections.close_all()

    threads = [threading.Thread(target=send) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    # The losers wait on the key's unique index, then replay the winner's committed answer.
    assert Booking.objects.count() == 1
    assert [status for status, _body in answers] == [201] * 6
    assert all(body == answers[0][1] for _status, body in answers)
