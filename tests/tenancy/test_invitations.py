"""Invitations: a manager invites by e-mail; the signed link works once, until it expires."""

from __future__ import annotations

import datetime as dt
import re

import pytest
import time_machine
from django.contrib.auth import get_user_model
from django.core import mail
from django.utils import timezone

from booking.errors import ParkError
from booking.tenancy.invitations import (
    LinkState,
    invitation_accept,
    invitation_check,
    invitation_create,
    invitation_token,
)
from booking.tenancy.models import Invitation, Membership

pytestmark = pytest.mark.django_db

LINK = re.compile(r"https?://\S+/invitations/(\S+)/")


@pytest.fixture
def invite(client, park, django_capture_on_commit_callbacks):
    """bob invites someone; the e-mail queued once the invitation commits is sent."""

    def send(email="dana@acme.example", role="member", language="en"):
        client.force_login(park.bob)
        with django_capture_on_commit_callbacks(execute=True):
            return client.post(
                "/tenants/acme/members/invite",
                {"email": email, "role": role, "language": language},
            )

    return send


def _path_from_outbox() -> str:
    return "/invitations/" + LINK.search(mail.outbox[-1].body).group(1) + "/"


def _counts():
    User = get_user_model()
    return (
        User.objects.count(),
        Membership.objects.count(),
        Invitation.objects.filter(accepted_at__isnull=False).count(),
    )


def test_manager_invites_and_the_mail_carries_a_signed_link(invite, client, park):
    response = invite()
    assert response.status_code == 302
    invitation = Invitation.objects.get()
    assert (invitation.email, invitation.role, invitation.invited_by) == (
        "dana@acme.example",
        "member",
        park.bob,
    )
    assert invitation.expires - invitation.created == dt.timedelta(hours=72)
    assert mail.outbox[-1].to == ["dana@acme.example"]
    assert "Acme Robotics" in mail.outbox[-1].subject
    assert invitation_check(token=_path_from_outbox().split("/")[2]).state is LinkState.PENDING


def test_invitation_mail_is_written_in_the_language_the_inviter_chose(invite, client, park):
    invite(language="zh-hant")
    assert "邀請" in mail.outbox[-1].subject
    assert "邀請" in mail.outbox[-1].body


def test_new_person_accepts_sets_a_password_and_is_signed_in_as_member(invite, client, park):
    invite()
    path = _path_from_outbox()
    client.logout()
    page = client.get(path)
    assert page.status_code == 200 and b'id="accept-form"' in page.content
    response = client.post(
        path,
        {
            "username": "dana",
            "first_name": "Dana",
            "password1": "a long pass 42",
            "password2": "a long pass 42",
        },
    )
    assert response.status_code == 302
    dana = get_user_model().objects.get(username="dana")
    assert dana.email == "dana@acme.example" and dana.check_password("a long pass 42")
    assert Membership.objects.get(user=dana).role == "member"
    assert client.get("/").wsgi_request.user == dana


def test_accepting_twice_or_replaying_the_link_creates_nothing_more(invite, client, park):
    invite()
    path = _path_from_outbox()
    client.logout()
    data = {"username": "dana", "password1": "a long pass 42", "password2": "a long pass 42"}
    client.post(path, data)
    before = _counts()
    again = client.post(path, data)  # the same person, signed in now
    assert again.status_code == 302
    client.logout()
    replay = client.post(path, {**data, "username": "dana2"})
    assert replay.status_code == 409
    assert "already been used" in replay.content.decode()
    assert _counts() == before


def test_an_expired_invite_link_shows_a_clear_page_and_creates_nothing(invite, client, park):
    invite()
    path = _path_from_outbox()
    client.logout()
    before = _counts()
    with time_machine.travel(timezone.now() + dt.timedelta(hours=73)):
        page = client.get(path)
        posted = client.post(
            path, {"username": "dana", "password1": "a long pass 42", "password2": "a long pass 42"}
        )
    assert page.status_code == 410 and posted.status_code == 410
    assert "This invitation has expired" in page.content.decode()
    assert 'data-state="expired"' in page.content.decode()
    assert _counts() == before


def test_an_invitation_past_its_expiry_row_is_refused_even_with_a_fresh_signature(park):
    long_ago = timezone.now() - dt.timedelta(days=4)
    invitation = invitation_create(
        actor=park.bob, tenant=park.acme, email="dana@acme.example", now=long_ago
    )
    check = invitation_check(token=invitation_token(invitation=invitation))
    assert check.state is LinkState.EXPIRED
    dana = get_user_model().objects.create_user("dana", "dana@acme.example", "pw")
    with pytest.raises(ParkError) as refused:
        invitation_accept(invitation=invitation, user=dana)
    assert refused.value.code == "invitation_expired"
    assert not Membership.objects.filter(user=dana).exists()


def test_a_revoked_link_shows_a_clear_page_and_creates_nothing(invite, client, park):
    invite()
    path = _path_from_outbox()
    invitation = Invitation.objects.get()
    response = client.post(f"/tenants/acme/invitations/{invitation.pk}/revoke")
    assert response.status_code == 302
    client.logout()
    before = _counts()
    page = client.get(path)
    assert page.status_code == 410 and 'data-state="revoked"' in page.content.decode()
    client.post(
        path, {"username": "dana", "password1": "a long pass 42", "password2": "a long pass 42"}
    )
    assert _counts() == before


def test_a_tampered_link_is_not_valid(invite, client, park):
    invite()
    path = _path_from_outbox()
    client.logout()
    page = client.get(path[:-3] + "xx/")
    assert page.status_code == 404 and 'data-state="invalid"' in page.content.decode()


def test_a_signed_in_user_with_the_invited_address_joins_with_one_click(invite, client, park):
    invite(email="CHARLIE@globex.example", role="manager")
    path = _path_from_outbox()
    client.force_login(park.charlie)
    assert b"Accept and join" in client.get(path).content
    assert client.post(path).status_code == 302
    assert Membership.objects.get(user=park.charlie, tenant=park.acme).role == "manager"


def test_someone_signed_in_with_another_address_cannot_take_the_invitation(invite, client, park):
    invite()
    path = _path_from_outbox()
    client.force_login(park.charlie)
    before = _counts()
    assert client.post(path).status_code == 403
    assert _counts() == before


def test_an_existing_account_is_asked_to_sign_in(invite, client, park):
    get_user_model().objects.create_user("dana", "dana@acme.example", "pw-dana-long")
    invite()
    path = _path_from_outbox()
    client.logout()
    page = client.get(path)
    assert "Sign in to accept" in page.content.decode()


def test_a_new_invitation_replaces_the_pending_one(invite, client, park):
    invite()
    first = _path_from_outbox()
    invite(role="manager")
    client.logout()
    assert client.get(first).status_code == 410
    assert client.get(_path_from_outbox()).status_code == 200


@pytest.mark.parametrize(
    ("email", "code"),
    [("not an address", "invalid"), ("alice@acme.example", "already_member")],
)
def test_invite_refuses_a_bad_address_or_a_member_and_stores_nothing(
    invite, client, park, email, code
):
    response = invite(email=email)
    assert response.status_code == 422
    assert Invitation.objects.count() == 0 and mail.outbox == []
    assert f'data-code="{code}" data-field="email"' in response.content.decode()


def test_a_short_password_is_refused_naming_the_rule_and_nothing_is_created(invite, client, park):
    invite()
    path = _path_from_outbox()
    client.logout()
    before = _counts()
    page = client.post(path, {"username": "dana", "password1": "short", "password2": "short"})
    assert page.status_code == 422
    assert "too short" in page.content.decode()
    assert _counts() == before


def test_only_the_tenants_managers_may_invite(client, park):
    for user in (park.alice, park.charlie):
        client.force_login(user)
        response = client.post(
            "/tenants/acme/members/invite",
            {"email": "x@y.example", "role": "member", "language": "en"},
        )
        assert response.status_code == 404
    assert Invitation.objects.count() == 0
