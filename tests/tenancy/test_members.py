"""The members page of a tenant's manager: roles, cluster user names, removing a member."""

from __future__ import annotations

import datetime as dt

import httpx
import pytest
from django.core import mail
from django.test import TestCase

from booking.bookings.models import Booking, BookingStatus
from booking.bookings.services import booking_create_instant
from booking.errors import ParkError
from booking.tenancy import members
from booking.tenancy.models import Membership
from resources.cluster_users import UserLookup, cluster_user_lookup
from resources.slurm import SlurmClient
from resources.slurm.client import SlurmConfig
from tests.browser.test_booking_flow import at

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def no_cluster(settings, monkeypatch):
    # Unit tests here ask no Slurm unless they say so (the real one: tests/slurm/).
    settings.SLURM_REST_URL = ""
    monkeypatch.delenv("SLURM_REST_URL", raising=False)


def _m(park, user) -> Membership:
    return Membership.objects.get(user=user, tenant=park.acme)


def test_the_manager_sees_members_with_role_and_cluster_user_name(client, park):
    client.force_login(park.bob)
    page = client.get("/tenants/acme/members/")
    assert page.status_code == 200
    text = page.content.decode()
    assert 'data-username="alice"' in text and 'data-username="bob"' in text
    assert 'value="alice"' in text  # alice's cluster user name
    assert "charlie" not in text
    assert 'href="/tenants/acme/members/"' in client.get("/").content.decode()


@pytest.mark.parametrize("who", ["alice", "charlie_as_manager_of_globex", "anonymous"])
def test_a_member_or_another_tenants_manager_gets_404(client, park, who):
    if who == "alice":
        client.force_login(park.alice)
    elif who != "anonymous":
        Membership.objects.filter(user=park.charlie).update(role=Membership.Role.MANAGER)
        client.force_login(park.charlie)
    alice = _m(park, park.alice)
    urls = [
        ("get", "/tenants/acme/members/", {}),
        ("post", "/tenants/acme/members/invite", {"email": "x@y.example", "role": "member"}),
        ("post", f"/tenants/acme/members/{alice.pk}/role", {"role": "manager"}),
        ("post", f"/tenants/acme/members/{alice.pk}/cluster-username", {"cluster_username": "zz"}),
        ("get", f"/tenants/acme/members/{alice.pk}/remove", {}),
        ("post", f"/tenants/acme/members/{alice.pk}/remove", {}),
    ]
    for method, url, data in urls:
        response = getattr(client, method)(url, data)
        expected = 302 if who == "anonymous" else 404
        assert response.status_code == expected, url
    alice.refresh_from_db()
    assert (alice.role, alice.cluster_username) == ("member", "alice")


def test_a_manager_cannot_reach_another_tenants_member_through_their_own_tenant(client, park):
    client.force_login(park.bob)
    charlie = Membership.objects.get(user=park.charlie)
    for url in (
        f"/tenants/acme/members/{charlie.pk}/remove",
        f"/tenants/acme/members/{charlie.pk}/role",
    ):
        assert client.post(url, {"role": "manager"}).status_code == 404
    assert Membership.objects.filter(pk=charlie.pk, role="member").exists()


def test_the_manager_makes_a_member_a_manager_and_htmx_gets_the_section(client, park):
    client.force_login(park.bob)
    alice = _m(park, park.alice)
    response = client.post(
        f"/tenants/acme/members/{alice.pk}/role", {"role": "manager"}, HTTP_HX_REQUEST="true"
    )
    assert response.status_code == 200
    assert response.content.decode().startswith('<section id="members"')
    assert _m(park, park.alice).role == "manager"


def test_an_unknown_role_is_refused_naming_the_field(client, park):
    client.force_login(park.bob)
    alice = _m(park, park.alice)
    response = client.post(f"/tenants/acme/members/{alice.pk}/role", {"role": "owner"})
    assert response.status_code == 422
    assert 'data-code="role_invalid"' in response.content.decode()
    assert _m(park, park.alice).role == "member"


def test_the_last_manager_cannot_demote_or_remove_themselves(client, park):
    client.force_login(park.bob)
    bob = _m(park, park.bob)
    for url, data in (
        (f"/tenants/acme/members/{bob.pk}/role", {"role": "member"}),
        (f"/tenants/acme/members/{bob.pk}/remove", {}),
    ):
        response = client.post(url, data)
        assert response.status_code == 422
        text = response.content.decode()
        assert 'data-code="last_manager"' in text and "at least one manager" in text
    assert _m(park, park.bob).role == "manager"


def test_with_a_second_manager_the_first_may_step_down(park):
    members.member_set_role(actor=park.bob, membership=_m(park, park.alice), role="manager")
    members.member_set_role(actor=park.bob, membership=_m(park, park.bob), role="member")
    assert _m(park, park.bob).role == "member"


@pytest.mark.parametrize("name", ["Alice", "1abc", "a b", "x" * 33, "al;ice"])
def test_a_cluster_user_name_outside_the_pattern_is_refused(client, park, name):
    client.force_login(park.bob)
    alice = _m(park, park.alice)
    response = client.post(
        f"/tenants/acme/members/{alice.pk}/cluster-username", {"cluster_username": name}
    )
    assert response.status_code == 422
    assert 'data-code="cluster_username_invalid"' in response.content.decode()
    assert _m(park, park.alice).cluster_username == "alice"


def test_a_cluster_user_name_belongs_to_one_person(park):
    with pytest.raises(ParkError) as refused:
        members.member_set_cluster_username(
            actor=park.bob, membership=_m(park, park.alice), name="charlie"
        )
    assert refused.value.code == "cluster_username_taken"
    assert _m(park, park.alice).cluster_username == "alice"


def test_without_a_cluster_the_name_is_stored_unchecked(park):
    result = members.member_set_cluster_username(
        actor=park.bob, membership=_m(park, park.alice), name="alice_w"
    )
    assert result.warning == "" and _m(park, park.alice).cluster_username == "alice_w"


def test_an_unreachable_cluster_stores_the_name_with_a_warning_never_a_500(client, park, settings):
    settings.SLURM_REST_URL = "http://127.0.0.1:9"  # nothing listens there
    settings.SLURM_TOKEN = "unused"
    settings.SLURM_SYNC_ON_CHANGE = False
    client.force_login(park.bob)
    alice = _m(park, park.alice)
    response = client.post(
        f"/tenants/acme/members/{alice.pk}/cluster-username",
        {"cluster_username": "alice2"},
        follow=True,
    )
    assert response.status_code == 200
    assert "could not be checked" in response.content.decode()
    assert _m(park, park.alice).cluster_username == "alice2"


def _fake_slurm(users: list[str] | None) -> SlurmClient:
    """A client whose slurmrestd answers the users list (or 500 for a refusal)."""

    def answer(request: httpx.Request) -> httpx.Response:
        assert request.url.path.endswith("/users")
        if users is None:
            return httpx.Response(500, json={"errors": [{"error_code": 1, "error": "no"}]})
        return httpx.Response(200, json={"users": [{"name": u} for u in users]})

    config = SlurmConfig(base_url="http://slurm.test", user="parkbook", token="t", retries=0)
    return SlurmClient(config, transport=httpx.MockTransport(answer))


def test_the_lookup_answers_known_unknown_or_unreachable_from_slurms_user_list():
    assert (
        cluster_user_lookup(name="parkdev1", client=_fake_slurm(["parkdev1"])) is UserLookup.KNOWN
    )
    assert (
        cluster_user_lookup(name="nobody", client=_fake_slurm(["parkdev1"])) is UserLookup.UNKNOWN
    )
    assert cluster_user_lookup(name="nobody", client=_fake_slurm(None)) is UserLookup.UNREACHABLE


def test_a_name_slurm_does_not_know_is_refused_and_nothing_stored(park, monkeypatch):
    monkeypatch.setattr(
        members,
        "cluster_user_lookup",
        lambda *, name: cluster_user_lookup(name=name, client=_fake_slurm(["parkdev1"])),
    )
    with pytest.raises(ParkError) as refused:
        members.member_set_cluster_username(
            actor=park.bob, membership=_m(park, park.alice), name="nobody"
        )
    assert refused.value.code == "cluster_user_unknown"
    assert _m(park, park.alice).cluster_username == "alice"
    members.member_set_cluster_username(
        actor=park.bob, membership=_m(park, park.alice), name="parkdev1"
    )
    assert _m(park, park.alice).cluster_username == "parkdev1"


def test_removing_a_member_asks_first_stating_the_rule(client, park):
    client.force_login(park.bob)
    alice = _m(park, park.alice)
    page = client.get(f"/tenants/acme/members/{alice.pk}/remove")
    assert page.status_code == 200
    assert "have not started" in page.content.decode() and "waitlist" in page.content.decode()
    assert Membership.objects.filter(pk=alice.pk).exists()


def test_removing_a_member_cancels_their_future_bookings_with_notice(
    client, park, settings, monkeypatch
):
    future = booking_create_instant(
        user=park.alice,
        tenant=park.acme,
        resource=park.confocal,
        start=at(2, 10),
        end=at(2, 11),
        title="cells",
    )
    running = booking_create_instant(
        user=park.alice,
        tenant=park.acme,
        resource=park.confocal,
        start=at(1, 10),
        end=at(1, 11),
        title="now",
    )
    later = at(1, 10) + dt.timedelta(minutes=5)  # the first one has started by then
    mail.outbox.clear()
    cancelled_hooks = []
    from booking.bookings import leaving

    monkeypatch.setattr(leaving, "booking_cancelled", lambda **kw: cancelled_hooks.append(kw))
    with TestCase.captureOnCommitCallbacks(execute=True):
        count = members.member_remove(actor=park.bob, membership=_m(park, park.alice), now=later)
    assert count == 1
    assert not Membership.objects.filter(user=park.alice, tenant=park.acme).exists()
    future.refresh_from_db()
    running.refresh_from_db()
    assert future.status == BookingStatus.CANCELLED and future.reason_code == "member_removed"
    assert running.status == BookingStatus.CONFIRMED
    assert [m.to for m in mail.outbox] == [["alice@acme.example"]]
    assert cancelled_hooks == [{"booking_id": future.pk, "round_id": None, "was_holding": True}]


def test_removal_asks_slurm_to_reconcile_through_the_membership_hook(park, settings, monkeypatch):
    import resources.tasks

    settings.SLURM_REST_URL = "http://127.0.0.1:9"
    settings.SLURM_SYNC_ON_CHANGE = True
    triggers = []
    monkeypatch.setattr(resources.tasks, "slurm_sync_task", triggers.append)
    alice = _m(park, park.alice)
    with TestCase.captureOnCommitCallbacks(execute=True):
        members.member_remove(actor=park.bob, membership=alice)
    assert f"membership {alice.pk}" in triggers


def test_a_failed_removal_changes_nothing(park, monkeypatch):
    booking = booking_create_instant(
        user=park.alice,
        tenant=park.acme,
        resource=park.confocal,
        start=at(2, 10),
        end=at(2, 11),
        title="cells",
    )
    from booking.bookings import models as booking_models

    def boom(self, *args, **kwargs):
        raise RuntimeError("database went away")

    monkeypatch.setattr(Membership, "delete", boom)
    with pytest.raises(RuntimeError):
        members.member_remove(actor=park.bob, membership=_m(park, park.alice))
    assert booking_models.Booking.objects.get(pk=booking.pk).status == BookingStatus.CONFIRMED
    assert Membership.objects.filter(user=park.alice, tenant=park.acme).exists()


def test_the_admin_lists_members_read_only_and_says_managers_add_them(client, park):
    client.force_login(park.olga)
    page = client.get(f"/admin/tenancy/tenant/{park.acme.pk}/change/")
    assert page.status_code == 200
    text = page.content.decode()
    assert "managers invite and manage members" in text
    assert 'name="memberships-0-role"' not in text
    assert Booking.objects.count() == 0
