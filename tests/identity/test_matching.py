"""The rules of a single sign-on, without a provider: which id_tokens are ours, and which park
user an identity is (stored subject, then verified e-mail, else a new user)."""

from __future__ import annotations

import time

import pytest
from django.contrib.auth import get_user_model

from booking.identity.models import OidcIdentity, Refusal
from booking.identity.services import (
    IdentityRefused,
    id_token_check,
    identity_sign_in,
    username_derive,
)

ISSUER = "https://id.park.example"
US = "park-booking"


def claims(**extra) -> dict:
    return {"iss": ISSUER, "aud": US, "sub": "s-1", "exp": time.time() + 300, **extra}


@pytest.mark.parametrize(
    "changed",
    [
        {"iss": "https://id.other.example"},
        {"aud": "other-app"},
        {"aud": ["other-app", "third-app"]},
        {"aud": [US, "other-app"]},  # several audiences and no azp
        {"aud": [US, "other-app"], "azp": "other-app"},
        {"azp": "other-app"},
        {"exp": time.time() - 1},
        {"exp": None},
        {"sub": ""},
    ],
)
def test_an_id_token_not_issued_for_us_now_is_refused(changed):
    with pytest.raises(IdentityRefused) as refused:
        id_token_check(claims=claims(**changed), issuer=ISSUER, client_id=US)
    assert refused.value.code == Refusal.TOKEN_INVALID


@pytest.mark.parametrize(
    "accepted", [{}, {"aud": [US]}, {"aud": [US, "other-app"], "azp": US}, {"azp": US}]
)
def test_an_id_token_for_us_from_our_issuer_is_accepted(accepted):
    id_token_check(claims=claims(**accepted), issuer=ISSUER, client_id=US)


def sign_in(**extra):
    return identity_sign_in(issuer=ISSUER, claims={"sub": "s-1", **extra})


def test_a_stored_subject_wins_over_a_changed_email(park):
    OidcIdentity.objects.create(user=park.charlie, issuer=ISSUER, subject="s-1")

    user = sign_in(email="alice@acme.example", email_verified=True)

    assert user == park.charlie
    assert OidcIdentity.objects.get().email == "alice@acme.example"


def test_the_same_subject_of_another_issuer_is_another_identity(park):
    OidcIdentity.objects.create(user=park.charlie, issuer="https://id.other.example", subject="s-1")

    user = sign_in(email="ann@uni.example", email_verified=True)

    assert user != park.charlie
    assert OidcIdentity.objects.filter(subject="s-1").count() == 2


def test_a_verified_email_links_the_park_user_once(park):
    user = sign_in(email="ALICE@acme.example", email_verified=True)

    assert user == park.alice
    assert OidcIdentity.objects.get().user == park.alice
    assert sign_in(email="alice@acme.example", email_verified=True) == park.alice
    assert OidcIdentity.objects.count() == 1


def test_a_verified_email_sent_as_a_string_counts(park):
    assert sign_in(email="alice@acme.example", email_verified="true") == park.alice


def assert_refused_without_writes(code: Refusal, **extra):
    users_before = get_user_model().objects.count()
    identities_before = OidcIdentity.objects.count()
    with pytest.raises(IdentityRefused) as refused:
        sign_in(**extra)
    assert refused.value.code == code
    assert get_user_model().objects.count() == users_before
    assert OidcIdentity.objects.count() == identities_before


def test_an_unverified_email_of_a_park_user_is_refused(park):
    assert_refused_without_writes(Refusal.EMAIL_UNVERIFIED, email="alice@acme.example")


def test_an_email_shared_by_two_park_users_is_refused(park):
    get_user_model().objects.create_user("alice2", "Alice@Acme.example")
    assert_refused_without_writes(
        Refusal.AMBIGUOUS_EMAIL, email="alice@acme.example", email_verified=True
    )


def test_an_operator_account_is_not_linked_by_email(park):
    assert_refused_without_writes(
        Refusal.STAFF_NOT_LINKED, email="olga@park.local", email_verified=True
    )


def test_a_user_linked_to_another_subject_is_not_linked_again(park):
    OidcIdentity.objects.create(user=park.alice, issuer=ISSUER, subject="s-0")
    assert_refused_without_writes(
        Refusal.LINKED_ELSEWHERE, email="alice@acme.example", email_verified=True
    )


def test_a_disabled_user_is_refused(park):
    OidcIdentity.objects.create(user=park.alice, issuer=ISSUER, subject="s-1")
    park.alice.is_active = False
    park.alice.save()
    with pytest.raises(IdentityRefused) as refused:
        sign_in()
    assert refused.value.code == Refusal.INACTIVE


def test_without_creation_an_unknown_person_is_refused(db):
    with pytest.raises(IdentityRefused) as refused:
        identity_sign_in(issuer=ISSUER, claims={"sub": "s-9"}, create=False)
    assert refused.value.code == Refusal.NO_ACCOUNT
    assert not get_user_model().objects.exists()


def test_a_new_user_gets_an_unverified_address_on_the_identity_only(db):
    user = sign_in(email="ann@uni.example", email_verified=False, given_name="Ann")

    assert (user.username, user.email, user.first_name) == ("ann", "", "Ann")
    identity = OidcIdentity.objects.get()
    assert (identity.email, identity.email_verified) == ("ann@uni.example", False)
    assert not user.has_usable_password()


def test_a_new_users_name_is_safe_short_and_free(db):
    get_user_model().objects.create_user("ann.lee")
    get_user_model().objects.create_user("ann.lee-2")

    assert username_derive(claims={"preferred_username": "Ann.Lee"}) == "ann.lee-3"
    assert username_derive(claims={"preferred_username": "李 安 <script>"}) == "李-安-script"
    assert username_derive(claims={"email": "x" * 80 + "@uni.example"}) == "x" * 30
    assert username_derive(claims={"preferred_username": "..."}) == "user"
