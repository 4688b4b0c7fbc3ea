"""Members and the real dev cluster: a manager's cluster user name is checked against Slurm's
users, and removing a member removes their association through the park's reconciliation."""

from __future__ import annotations

import subprocess

import pytest

from booking.errors import ParkError
from booking.tenancy import members
from booking.tenancy.models import Membership
from resources.cluster_users import UserLookup, cluster_user_lookup
from tests.slurm.test_park_sync import _slurm_env, associations, run_sync, synced  # noqa: F401

pytestmark = [pytest.mark.slurm, pytest.mark.slow, pytest.mark.django_db]


@pytest.fixture
def on_cluster(park, settings, slurm_env, slurm, slurm_accounting):
    if not slurm_accounting:
        pytest.skip("the dev cluster runs without slurmdbd (no user list)")
    settings.SLURM_REST_URL = slurm_env["SLURM_REST_URL"]
    settings.SLURM_API_VERSION = slurm_env.get("SLURM_API_VERSION", "v0.0.38")
    settings.SLURM_USER = slurm_env["SLURM_USER"]
    settings.SLURM_JWT_KEY_FILE = slurm_env.get("SLURM_JWT_KEY_FILE", "")
    settings.SLURM_TOKEN = slurm_env.get("SLURM_TOKEN", "")
    settings.SLURM_CLUSTER = slurm_env["SLURM_CLUSTER"]
    settings.SLURM_SYNC_ON_CHANGE = False
    return park


def _extra_users(slurm_env) -> list[str]:
    return (slurm_env.get("SLURM_DEV_EXTRA_USERS") or "parkdev1,parkdev2").split(",")


def test_slurm_knows_the_dev_users_and_not_a_made_up_one(on_cluster, slurm_env):
    assert cluster_user_lookup(name=_extra_users(slurm_env)[0]) is UserLookup.KNOWN
    assert cluster_user_lookup(name="no_such_park_user") is UserLookup.UNKNOWN


def test_the_manager_sets_a_cluster_user_name_slurm_knows_and_not_one_it_does_not(
    on_cluster, slurm_env, client
):
    park = on_cluster
    alice = Membership.objects.get(user=park.alice, tenant=park.acme)
    name = _extra_users(slurm_env)[0]
    result = members.member_set_cluster_username(actor=park.bob, membership=alice, name=name)
    assert result.warning == ""
    alice.refresh_from_db()
    assert alice.cluster_username == name
    with pytest.raises(ParkError) as refused:
        members.member_set_cluster_username(
            actor=park.bob, membership=alice, name="no_such_park_user"
        )
    assert refused.value.code == "cluster_user_unknown"
    alice.refresh_from_db()
    assert alice.cluster_username == name


def test_removing_a_member_removes_their_association_in_slurm(synced, slurm_env):  # noqa: F811
    park = synced
    user = _extra_users(slurm_env)[0]  # alice in acme
    code, text = run_sync("--apply")
    assert user in associations(slurm_env, "acme"), text
    # slurmdbd keeps an association that still has queued jobs: end other tests' jobs of it.
    subprocess.run(
        ["scancel", "--account=acme", f"--user={user}"],
        env=_slurm_env(slurm_env),
        capture_output=True,
        timeout=60,
    )
    members.member_remove(
        actor=park.bob, membership=Membership.objects.get(user=park.alice, tenant=park.acme)
    )
    code, text = run_sync("--apply")
    assert user not in associations(slurm_env, "acme"), text
