"""Catalogue list/detail, pools and free slots."""

from __future__ import annotations

import datetime as dt

from resources.models import MaintenanceWindow
from tests.api.conftest import Api, assert_error, next_hour


def test_catalogue_lists_resources_in_a_stable_order(alice_api):
    body = alice_api.get("/resources").json()
    slugs = [r["slug"] for r in body["items"]]
    assert body["count"] == 4
    assert set(slugs) == {"gpu01", "confocal-1", "xrd", "epi"}
    kinds = [r["kind"] for r in body["items"]]
    assert kinds == sorted(kinds)


def test_catalogue_filters_by_kind_and_gpu_model(alice_api):
    gpus = alice_api.get("/resources", {"kind": "gpu"}).json()["items"]
    assert [r["slug"] for r in gpus] == ["gpu01"]
    assert gpus[0]["gpu"]["gpu_model"] == "A100"
    assert alice_api.get("/resources", {"gpu_model": "h100"}).json()["count"] == 0
    assert alice_api.get("/resources", {"gpu_model": "a100"}).json()["count"] == 1


def test_catalogue_filters_by_free_window(alice_api, park):
    start = next_hour(days=2)
    MaintenanceWindow.objects.create(
        resource=park.xrd, start=start, end=start + dt.timedelta(hours=2), reason="service"
    )
    params = {
        "free_from": start.isoformat(),
        "free_to": (start + dt.timedelta(hours=1)).isoformat(),
    }
    slugs = [r["slug"] for r in alice_api.get("/resources", params).json()["items"]]
    assert "xrd" not in slugs and "gpu01" in slugs


def test_catalogue_refuses_half_a_window(alice_api):
    assert_error(
        alice_api.get("/resources", {"free_from": next_hour().isoformat()}),
        422,
        "window_incomplete",
        "free_to",
    )


def test_catalogue_refuses_bad_filters_naming_them(alice_api):
    assert_error(alice_api.get("/resources", {"kind": "boat"}), 422, "validation_error", "kind")
    assert_error(alice_api.get("/resources", {"limit": 0}), 422, "validation_error", "limit")
    assert_error(
        alice_api.get("/resources", {"location": 10**30}), 422, "validation_error", "location"
    )
    assert_error(
        alice_api.get("/resources", {"free_from": "2026-01-01T10:00", "free_to": "x"}),
        422,
        "validation_error",
    )


def test_catalogue_pages_do_not_overlap(alice_api):
    first = alice_api.get("/resources", {"limit": 2}).json()
    second = alice_api.get("/resources", {"limit": 2, "offset": 2}).json()
    ids = [r["id"] for r in first["items"] + second["items"]]
    assert len(ids) == len(set(ids)) == 4


def test_resource_detail_shows_kind_attributes(alice_api):
    line = alice_api.get("/resources/epi").json()
    assert line["booking_mode"] == "round"
    assert {r["code"] for r in line["line"]["recipes"]} == {"sic", "gan"}
    assert line["gpu"] is None
    confocal = alice_api.get("/resources/confocal-1").json()
    assert confocal["required_training"] == "confocal"
    assert confocal["instrument"]["biosafety_level"] == 2


def test_unknown_resource_is_404(alice_api):
    assert_error(alice_api.get("/resources/nope"), 404, "not_found")


def test_malformed_slug_is_422(alice_api):
    assert_error(alice_api.get("/resources/a%00b"), 422, "validation_error", "slug")


def test_availability_of_a_resource_respects_opening_hours(alice_api):
    day = next_hour(days=1, hour=0)
    body = alice_api.get(
        "/resources/confocal-1/availability",
        {"start": day.isoformat(), "end": (day + dt.timedelta(days=1)).isoformat()},
    ).json()
    assert len(body["slots"]) == 1
    slot = body["slots"][0]
    assert dt.datetime.fromisoformat(slot["start"]) == day.replace(hour=8)
    assert dt.datetime.fromisoformat(slot["end"]) == day.replace(hour=20)


def test_availability_shows_capacity_left_after_a_booking(alice_api, charlie_api):
    start = next_hour(days=1)
    created = charlie_api.post(
        "/bookings",
        {
            "resource": "gpu01",
            "title": "training run",
            "units": 3,
            "start": start.isoformat(),
            "end": (start + dt.timedelta(hours=2)).isoformat(),
        },
    )
    assert created.status_code == 201, created.content
    body = alice_api.get(
        "/resources/gpu01/availability",
        {
            "start": start.isoformat(),
            "end": (start + dt.timedelta(hours=4)).isoformat(),
            "units": 2,
        },
    ).json()
    # 3 of 4 GPUs are taken for two hours: 2 GPUs are free only afterwards.
    assert [dt.datetime.fromisoformat(s["start"]) for s in body["slots"]] == [
        start + dt.timedelta(hours=2)
    ]


def test_availability_window_is_validated(alice_api):
    start = next_hour()
    assert_error(
        alice_api.get(
            "/resources/gpu01/availability",
            {"start": start.isoformat(), "end": (start + dt.timedelta(days=40)).isoformat()},
        ),
        422,
        "window_too_long",
        "end",
    )
    assert_error(
        alice_api.get(
            "/resources/gpu01/availability",
            {"start": start.isoformat(), "end": start.isoformat()},
        ),
        422,
        "window_invalid",
        "end",
    )
    assert_error(
        alice_api.get(
            "/resources/gpu01/availability",
            {"start": "2026-11-30T10:00:00", "end": "2026-11-30T12:00:00"},
        ),
        422,
        "validation_error",
        "start",
    )
    assert_error(
        alice_api.get(
            "/resources/gpu01/availability",
            {"start": "0001-01-01T00:00:00+14:00", "end": "2026-11-30T12:00:00Z"},
        ),
        422,
        "validation_error",
        "start",
    )


def test_pools_and_pool_availability(alice_api):
    pools = alice_api.get("/pools").json()
    assert pools["items"][0]["slug"] == "any-a100"
    assert pools["items"][0]["members"] == ["gpu01"]
    start = next_hour()
    body = alice_api.get(
        "/pools/any-a100/availability",
        {"start": start.isoformat(), "end": (start + dt.timedelta(hours=3)).isoformat()},
    ).json()
    assert [r["resource"] for r in body["resources"]] == ["gpu01"]
    assert body["resources"][0]["slots"][0]["free_units"] == 4
    assert_error(
        alice_api.get(
            "/pools/nope/availability",
            {"start": start.isoformat(), "end": (start + dt.timedelta(hours=3)).isoformat()},
        ),
        404,
        "not_found",
    )


def test_catalogue_needs_a_token(park):
    assert_error(Api(None).get("/resources"), 401)
