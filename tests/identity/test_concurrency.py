"""Two first sign-ins of one person at once (two tabs, a double click) make one user: the
unique (issuer, subject) constraint lets one create it and the other finds it."""

from __future__ import annotations

import threading

import pytest
from django.contrib.auth import get_user_model
from django.db import connections

from booking.identity.models import OidcIdentity
from booking.identity.services import identity_sign_in

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def test_simultaneous_first_sign_ins_of_one_subject_make_one_user():
    claims = {"sub": "s-1", "email": "ann@uni.example", "email_verified": True}
    threads = 8
    barrier = threading.Barrier(threads)
    results: list = [None] * threads

    def attempt(i: int) -> None:
        try:
            barrier.wait()
            results[i] = identity_sign_in(issuer="https://id.park.example", claims=claims).pk
        except Exception as exc:  # noqa: BLE001 - a leaked exception is what the test looks for
            results[i] = exc
        finally:
            connections.close_all()

    workers = [threading.Thread(target=attempt, args=(i,)) for i in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()

    assert len(set(results)) == 1, results
    assert get_user_model().objects.count() == 1
    assert OidcIdentity.objects.count() == 1


def test_simultaneous_first_sign_ins_of_two_people_with_one_name_get_two_names():
    barrier = threading.Barrier(2)
    results: list = [None, None]

    def attempt(i: int) -> None:
        try:
            barrier.wait()
            user = identity_sign_in(
                issuer="https://id.park.example",
                claims={"sub": f"s-{i}", "preferred_username": "ann"},
            )
            results[i] = user.username
        except Exception as exc:  # noqa: BLE001
            results[i] = exc
        finally:
            connections.close_all()

    workers = [threading.Thread(target=attempt, args=(i,)) for i in range(2)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()

    assert sorted(results) == ["ann", "ann-2"], results
