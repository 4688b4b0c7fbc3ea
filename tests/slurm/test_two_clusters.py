"""Two real clusters (scripts/slurm-dev-cluster up): the park's own (Hong Kong) and the GBA hub
(Mainland, Slurm cluster "gbahub", the same slurmdbd). Routing, the residency refusal with
nothing stored, node sync and following on both, and the hub's controller stopped mid-batch:
the park's jobs finish meanwhile, the hub's finish exactly once after it returns."""

from __future__ import annotations

import os
import time

import pytest

from booking.compute.models import ComputeJob, JobState
from booking.compute.tasks import jobs_tick
from booking.errors import ParkError
from resources.cluster_setup import hub_from_env
from resources.clusters import client_for, default_cluster
from resources.models import GpuNode
from resources.slurm_sync import slurm_nodes_sync
from tests.slurm import test_job_flow
from tests.slurm.conftest import _skip_or_fail
from tests.slurm.test_crashes import assert_each_exactly_once, script, wait_for_accounting
from tests.slurm.test_job_flow import submit

cluster = test_job_flow.cluster  # the fixture: the test park wired to the park's dev cluster

pytestmark = [pytest.mark.slurm, pytest.mark.django_db]

LIVE = [JobState.QUEUED, JobState.PENDING, JobState.RUNNING]


@pytest.fixture
def two(cluster, slurm_env, settings, slurm_accounting):
    """The test park with both clusters registered; the tenants' accounts exist on both."""
    if not slurm_env.get("SLURM_HUB_REST_URL"):
        _skip_or_fail("the dev cluster runs no hub (SLURM_DEV_HUB=0)")
    settings.SLURM_HUB_JWT_KEY_FILE = slurm_env["SLURM_HUB_JWT_KEY_FILE"]
    settings.SLURM_HUB_AGENT_KEY_FILE = slurm_env.get("SLURM_HUB_AGENT_KEY_FILE", "")
    settings.SLURM_FOLLOW_INTERVAL = 0.5
    hub = hub_from_env(slurm_env)
    hub_client = client_for(hub)
    hub_client.ping()
    users = (slurm_env.get("SLURM_DEV_EXTRA_USERS") or "parkdev1,parkdev2").split(",")
    if slurm_accounting:
        hub_client.ensure_account(cluster.acme.slurm_account, users=[users[0]])
        hub_client.ensure_account(cluster.globex.slurm_account, users=[users[-1]])
    return cluster, hub, hub_client


def drive(ids, *, until, timeout: float = 180) -> None:
    """The follower's passes (every cluster, as the worker runs them) until ``until()``."""
    deadline = time.monotonic() + timeout
    while not until():
        assert time.monotonic() < deadline, [
            (j.pk, j.cluster.name, j.state, j.last_error[:80])
            for j in ComputeJob.objects.filter(pk__in=ids).select_related("cluster")
        ]
        ComputeJob.objects.filter(pk__in=ids, state=JobState.QUEUED).update(next_attempt_at=None)
        jobs_tick()
        time.sleep(0.5)


def ran_exactly_once(jobs, client) -> None:
    """Each job completed once in the cluster's accounting under its own id and marker. A job
    that was running while its controller was stopped can come back from slurmdbd without its
    allocated GPUs (GPU-hours 0 there): the park's figure, from slurmctld's record, may then be
    above accounting's by at most the seconds it ran."""
    from decimal import Decimal

    from booking.compute.slurm import job_marker

    for job in jobs:
        job.refresh_from_db()
        assert job.state == JobState.COMPLETED, (job.pk, job.state, job.reason, job.last_error)
        records = [
            r
            for r in client.accounting_jobs(name=job.slurm_name)
            if r.comment == job_marker(job) and r.start_time is not None
        ]
        assert {r.job_id for r in records} == {job.slurm_job_id}, (job.pk, records)
        final = [r for r in records if r.state.value == "COMPLETED"]
        assert len(final) == 1, f"job {job.pk} completed {len(final)} times in Slurm"
        expected = Decimal(str(final[0].gpu_hours)).quantize(Decimal("0.0001"))
        assert abs(job.gpu_hours - expected) <= Decimal("0.0020"), (job.pk, job.gpu_hours, expected)


def ended(ids) -> bool:
    return not ComputeJob.objects.filter(pk__in=ids, state__in=LIVE).exists()


def test_routing_residency_sync_and_following_on_both_clusters(two, slurm, slurm_accounting):
    park, hub, hub_client = two
    # Node sync per cluster: the hub's A800 nodes enter the catalogue under the hub's name.
    report = slurm_nodes_sync(client=hub_client, cluster=hub.name, apply=True)
    assert report.in_step, report
    assert set(
        GpuNode.objects.filter(slurm_cluster=hub.name).values_list("slurm_node", flat=True)
    ) == {"hub01", "hub02"}
    # The residency refusal: nothing stored, nothing sent.
    with pytest.raises(ParkError) as refused:
        submit(park, cluster=hub.name, data_class="personal")
    assert refused.value.code == "data_residency"
    assert not ComputeJob.objects.exists()
    # Routed hk_only data stays home; named open data runs on the hub; a job in the hub's
    # pool (made by the sync) is routed there.
    home = [submit(park, data_class="hk_only") for _ in range(3)]
    away = [submit(park, cluster=hub.name, data_class="open") for _ in range(2)]
    from resources.models import ResourcePool

    pool = ResourcePool.objects.filter(members__gpu__slurm_cluster=hub.name).distinct().get()
    away.append(submit(park, pool=pool, partition="", data_class="open"))
    assert {j.cluster.name for j in home} == {default_cluster().name}
    assert {j.cluster.name for j in away} == {hub.name}
    ids = [j.pk for j in home + away]
    drive(ids, until=lambda: ended(ids))
    for job in home + away:
        job.refresh_from_db()
        assert job.state == JobState.COMPLETED, (job.pk, job.reason, job.last_error)
    # Each ran where it records: its Slurm id names its own job on its own cluster.
    for job in home:
        assert slurm.get_job(job.slurm_job_id).name == job.slurm_name
    for job in away:
        assert hub_client.get_job(job.slurm_job_id).name == job.slurm_name
    if slurm_accounting:
        wait_for_accounting(home, slurm)
        wait_for_accounting(away, hub_client)
        assert_each_exactly_once(home, slurm)
        assert_each_exactly_once(away, hub_client)


@pytest.mark.slow
@pytest.mark.skipif(os.geteuid() != 0, reason="stopping and starting daemons needs root")
def test_the_hubs_controller_stopped_mid_batch(two, slurm, slurm_env, slurm_accounting):
    park, hub, hub_client = two
    away = [submit(park, cluster=hub.name, data_class="open") for _ in range(4)]
    home = [submit(park, data_class="hk_only") for _ in range(4)]
    # Half of the hub's batch reaches it, then its controller stops.
    jobs_tick()
    script(slurm_env, "stop", "hub-slurmctld")
    try:
        away += [submit(park, cluster=hub.name, data_class="open") for _ in range(4)]
        home += [submit(park, data_class="hk_only") for _ in range(4)]
        home_ids = [j.pk for j in home]
        drive(home_ids, until=lambda: ended(home_ids), timeout=240)
        for job in home:
            job.refresh_from_db()
            assert job.state == JobState.COMPLETED, (job.pk, job.reason, job.last_error)
        # The hub's jobs wait (none ended, none failed) while its controller is away.
        assert (
            not ComputeJob.objects.filter(pk__in=[j.pk for j in away])
            .exclude(state__in=LIVE)
            .exists()
        )
    finally:
        script(slurm_env, "restart", "hub-slurmctld")
    away_ids = [j.pk for j in away]
    drive(away_ids, until=lambda: ended(away_ids), timeout=240)
    ids = {j.slurm_job_id for j in ComputeJob.objects.filter(pk__in=away_ids)}
    assert len(ids) == len(away)  # one Slurm job each
    if slurm_accounting:
        wait_for_accounting(away, hub_client)
        ran_exactly_once(away, hub_client)
    else:
        for job in away:
            job.refresh_from_db()
            assert job.state == JobState.COMPLETED
