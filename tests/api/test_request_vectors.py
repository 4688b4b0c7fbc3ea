"""CPUs and memory per node on round requests through the API (POST /bookings): stored and
returned, refused with a stable code naming the field and the limit, seen by their tenant only."""

from __future__ import annotations

import pytest

from booking.bookings.models import Booking, BookingEvent
from tests.api.conftest import assert_error
from tests.api.test_bookings import gpu_booking
from tests.rounds import round_fixtures
from tests.rounds.round_fixtures import at

week_round = round_fixtures.week_round
drf_node = round_fixtures.drf_node

pytestmark = pytest.mark.django_db


def _request(rnd, resource="drf", **extra):
    return {
        "resource": resource,
        "title": "fine-tune",
        "earliest_start": at(rnd, 0, 8).isoformat(),
        "latest_end": at(rnd, 0, 20).isoformat(),
        "duration_minutes": 240 if resource == "xrd" else 120,
        **extra,
    }


def _nothing_stored():
    assert not Booking.objects.exists() and not BookingEvent.objects.exists()


def test_a_gpu_round_request_carries_its_cpus_and_memory(alice_api, week_round, drf_node):
    response = alice_api.post("/bookings", _request(week_round, units=2, cpus=4, memory_gb=8))
    assert response.status_code == 201, response.content
    body = response.json()
    assert (body["units"], body["cpus"], body["memory_gb"]) == (2, 4, 8)
    assert alice_api.get(f"/bookings/{body['id']}").json()["cpus"] == 4
    booking = Booking.objects.get()
    assert (booking.cpus, booking.memory_gb) == (4, 8)
    # Left out: not stated.
    plain = alice_api.post("/bookings", _request(week_round)).json()
    assert (plain["cpus"], plain["memory_gb"]) == (0, 0)


@pytest.mark.parametrize(
    ("asked", "code", "field", "limit"),
    [
        ({"cpus": 10}, "too_many_cpus", "cpus", 9),
        ({"memory_gb": 19}, "too_much_memory", "memory_gb", 18),
    ],
)
def test_more_than_the_node_has_is_refused_with_the_limit(
    alice_api, week_round, drf_node, asked, code, field, limit
):
    body = assert_error(
        alice_api.post("/bookings", _request(week_round, **asked)), 400, code, field
    )
    assert body["params"] == {"name": "DRF node", "max": limit}
    assert f"at most {limit}" in body["message"]
    _nothing_stored()


@pytest.mark.parametrize(
    ("asked", "code", "field"),
    [
        ({"cpus": 2}, "cpus_not_allowed", "cpus"),
        ({"memory_gb": 2}, "memory_not_allowed", "memory_gb"),
    ],
)
def test_cpus_or_memory_for_an_instrument_are_refused(alice_api, week_round, asked, code, field):
    body = assert_error(
        alice_api.post("/bookings", _request(week_round, resource="xrd", **asked)), 400, code, field
    )
    assert "GPU node" in body["message"]
    _nothing_stored()
    # 0 is "not stated" and accepted.
    zero = {name: 0 for name in asked}
    response = alice_api.post("/bookings", _request(week_round, resource="xrd", **zero))
    assert response.status_code == 201, response.content


def test_negative_values_and_instant_bookings_are_refused(alice_api, week_round, drf_node):
    assert_error(
        alice_api.post("/bookings", _request(week_round, cpus=-1)), 422, "validation_error", "cpus"
    )
    # An instant booking takes whole GPUs only.
    assert_error(
        alice_api.post("/bookings", gpu_booking(memory_gb=16)),
        422,
        "field_not_applicable",
        "memory_gb",
    )
    _nothing_stored()


def test_the_refusal_speaks_the_readers_language(alice_api, week_round, drf_node):
    body = assert_error(
        alice_api.post(
            "/bookings",
            _request(week_round, memory_gb=19),
            headers={"Accept-Language": "zh-hant"},
        ),
        400,
        "too_much_memory",
    )
    assert body["message"] == "記憶體（GB）：DRF node 每個節點最多有 18 GB 記憶體。"


def test_charlie_cannot_see_alices_request_vectors(alice_api, charlie_api, week_round, drf_node):
    mine = alice_api.post("/bookings", _request(week_round, cpus=7, memory_gb=13)).json()
    assert_error(charlie_api.get(f"/bookings/{mine['id']}"), 404, "not_found")
    assert charlie_api.get("/bookings").json()["count"] == 0
    outcomes = charlie_api.get(f"/rounds/{week_round.pk}/requests").json()
    assert outcomes["count"] == 0
    # Alice's own view of the round carries them.
    items = alice_api.get(f"/rounds/{week_round.pk}/requests").json()["items"]
    assert [(r["id"], r["cpus"], r["memory_gb"]) for r in items] == [(mine["id"], 7, 13)]
