"""Allocation rounds and their outcomes with the planner's reasons."""

from __future__ import annotations

from tests.api.conftest import Api, assert_error, make_token
from tests.rounds import round_fixtures
from tests.rounds.round_fixtures import ask, close_and_solve, publish

week_round = round_fixtures.week_round


def test_rounds_are_listed_and_filtered(alice_api, week_round):
    body = alice_api.get("/rounds").json()
    assert [r["id"] for r in body["items"]] == [week_round.pk]
    assert body["items"][0]["status"] == "open"
    assert alice_api.get("/rounds", {"status": "published"}).json()["count"] == 0
    assert_error(
        alice_api.get("/rounds", {"status": "dreaming"}), 422, "validation_error", "status"
    )
    assert alice_api.get(f"/rounds/{week_round.pk}").json()["name"] == "Test week"
    assert_error(alice_api.get("/rounds/987654"), 404, "not_found")


def test_round_outcomes_carry_the_planners_reasons(
    park, week_round, alice_api, charlie_api, django_capture_on_commit_callbacks
):
    rnd = week_round
    mine = [ask(rnd, user=park.alice, tenant=park.acme, resource=park.xrd) for _ in range(3)]
    theirs = [ask(rnd, user=park.charlie, tenant=park.globex, resource=park.xrd) for _ in range(3)]
    before = alice_api.get(f"/rounds/{rnd.pk}/requests").json()
    assert before["count"] == 3
    assert {r["status"] for r in before["items"]} == {"requested"}

    rnd = close_and_solve(rnd, django_capture_on_commit_callbacks)
    publish(rnd, django_capture_on_commit_callbacks, actor=park.olga)

    outcomes = alice_api.get(f"/rounds/{rnd.pk}/requests").json()
    assert {r["id"] for r in outcomes["items"]} == {b.pk for b in mine}
    for request in outcomes["items"]:
        assert request["status"] in {"confirmed", "waitlisted", "refused"}
        assert request["reason_code"] and request["reason_text"]
    # Charlie sees only Globex's requests in the same round.
    assert {r["id"] for r in charlie_api.get(f"/rounds/{rnd.pk}/requests").json()["items"]} == {
        b.pk for b in theirs
    }
    assert_error(charlie_api.get(f"/bookings/{mine[0].pk}"), 404, "not_found")


def test_a_manager_sees_the_tenants_requests(park, week_round):
    ask(week_round, user=park.alice, tenant=park.acme, resource=park.xrd)
    bob = Api(make_token(park.bob, park.acme))
    assert bob.get(f"/rounds/{week_round.pk}/requests").json()["count"] == 0
    whole = bob.get(f"/rounds/{week_round.pk}/requests", {"whole_tenant": "true"}).json()
    assert whole["count"] == 1


def test_round_outcomes_need_a_valid_token(park, week_round):
    assert_error(Api("park_abcdefabcdef_x").get(f"/rounds/{week_round.pk}/requests"), 401)
