"""The client against the real dev cluster (scripts/slurm-dev-cluster up)."""

from __future__ import annotations

import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from resources.slurm import (
    JobSpec,
    JobState,
    SlurmClient,
    SlurmConfig,
    SlurmError,
    config_from_env,
    mint_token,
)

pytestmark = [pytest.mark.slurm, pytest.mark.slow]


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def spec(workdir: str, *, script: str = "#!/bin/bash\ntrue\n", **overrides) -> JobSpec:
    values = dict(
        script=script,
        name=unique("test"),
        working_directory=workdir,
        time_limit_minutes=2,
        memory_mb=256,
    )
    values.update(overrides)
    return JobSpec(**values)


def test_ping_says_the_controller_is_up(slurm):
    ping = slurm.ping()
    assert ping.up
    assert ping.release.startswith("22.05")


def test_nodes_show_the_gpu_nodes_with_their_models(slurm):
    nodes = {n.name: n for n in slurm.nodes()}
    assert {"gpu01", "gpu02", "gpu03", "gpu04"} <= set(nodes)
    assert (nodes["gpu01"].gpu_type, nodes["gpu01"].gpu_count) == ("a100", 4)
    assert (nodes["gpu03"].gpu_type, nodes["gpu03"].gpu_count) == ("h100", 8)
    assert nodes["gpu01"].partitions == ("gpu",)
    assert nodes["cpu01"].gpu_count == 0


def test_partitions_show_gpu_and_cpu(slurm):
    parts = {p.name: p for p in slurm.partitions()}
    assert set(parts) >= {"gpu", "cpu"}
    assert parts["gpu"].nodes == ("gpu01", "gpu02", "gpu03", "gpu04")
    assert parts["gpu"].gpus == 24
    assert parts["gpu"].max_time_minutes == 7 * 24 * 60
    assert parts["cpu"].is_default


def test_a_gpu_job_completes_with_its_gpus_and_output(slurm, slurm_workdir, wait_for_job):
    name = unique("gpujob")
    out = f"{slurm_workdir}/{name}.out"
    job_id = slurm.submit(
        spec(
            slurm_workdir,
            name=name,
            script="#!/bin/bash\necho gpus=$CUDA_VISIBLE_DEVICES\n",
            partition="gpu",
            gpus=2,
            gpu_type="a100",
            comment="park-job:test",
            standard_output=out,
        )
    )
    job = wait_for_job(job_id)
    assert job.state is JobState.COMPLETED
    assert job.exit_code == 0
    assert job.gpus == 2
    assert job.name == name and job.comment == "park-job:test"
    assert job.start_time is not None and job.end_time >= job.start_time
    assert job.nodes in {"gpu01", "gpu02"}
    assert Path(out).read_text().strip() == "gpus=0,1"


def test_a_failing_script_reports_its_exit_code(slurm, slurm_workdir, wait_for_job):
    job_id = slurm.submit(spec(slurm_workdir, script="#!/bin/bash\nexit 3\n"))
    job = wait_for_job(job_id)
    assert job.state is JobState.FAILED
    assert job.exit_code == 3


def test_cancel_ends_a_running_job_as_cancelled(slurm, slurm_workdir, wait_for_job):
    job_id = slurm.submit(spec(slurm_workdir, script="#!/bin/bash\nsleep 300\n"))
    wait_for_job(job_id, until=lambda j: j.state is JobState.RUNNING)
    assert slurm.cancel(job_id) is True
    job = wait_for_job(job_id)
    assert job.state is JobState.CANCELLED


def test_cancel_of_an_unknown_job_says_false(slurm):
    assert slurm.cancel(999_999_99) is False
    assert slurm.get_job(999_999_99) is None


def test_begin_time_holds_the_job_until_then(slurm, slurm_workdir, wait_for_job):
    begin = datetime.now(UTC) + timedelta(seconds=4)
    job_id = slurm.submit(spec(slurm_workdir, begin_time=begin))
    assert slurm.get_job(job_id).state is JobState.PENDING
    job = wait_for_job(job_id, timeout=30)
    assert job.state is JobState.COMPLETED
    assert job.start_time >= begin.replace(microsecond=0)


def test_an_unknown_partition_is_refused_with_slurms_code(slurm, slurm_workdir):
    with pytest.raises(SlurmError) as caught:
        slurm.submit(spec(slurm_workdir, partition="no-such-partition"))
    error = caught.value
    assert error.refusal and error.error_code == 2000
    assert error.http_status == 500
    assert "partition" in error.message.lower()


def test_an_impossible_gpu_count_is_refused_with_slurms_code(slurm, slurm_workdir):
    with pytest.raises(SlurmError) as caught:
        slurm.submit(spec(slurm_workdir, partition="gpu", gpus=9, gpu_type="a100"))
    assert caught.value.refusal and caught.value.error_code == 2014
    assert "node configuration" in caught.value.message


def test_list_jobs_answers_not_modified_when_nothing_changed(slurm, slurm_workdir):
    since = datetime.now(UTC) - timedelta(seconds=1)
    name = unique("listed")
    job_id = slurm.submit(spec(slurm_workdir, name=name))
    found = slurm.list_jobs(if_changed_since=since, name_prefix=name)
    assert [j.job_id for j in found] == [job_id]
    assert slurm.list_jobs(if_changed_since=datetime.now(UTC) + timedelta(days=1)) is None


def test_a_self_minted_token_is_accepted_and_a_forged_one_refused(slurm_env):
    key = Path(slurm_env["SLURM_JWT_KEY_FILE"]).read_bytes()
    base = config_from_env(slurm_env)
    token = mint_token(key, user=base.user, lifetime=120)
    with SlurmClient(SlurmConfig(base_url=base.base_url, user=base.user, token=token)) as client:
        assert client.ping().up
    forged = mint_token(b"x" * 32, user=base.user, lifetime=120)
    with SlurmClient(SlurmConfig(base_url=base.base_url, user=base.user, token=forged)) as client:
        with pytest.raises(SlurmError) as caught:
            client.nodes()
    assert caught.value.refusal


def test_a_job_submitted_as_a_researcher_runs_as_that_user(slurm, slurm_env, wait_for_job):
    researcher = (slurm_env.get("SLURM_DEV_EXTRA_USERS") or "parkdev1").split(",")[0]
    workdir = slurm_env.get("SLURM_WORKDIR") or "/tmp"
    job_id = slurm.submit(spec(workdir), user=researcher)
    job = wait_for_job(job_id, user=researcher)
    assert job.user == researcher and job.state is JobState.COMPLETED


class TestAccounting:
    """Tenants map to real Slurm accounts (needs slurmdbd: SLURM_DEV_ACCOUNTING=1)."""

    @pytest.fixture(autouse=True)
    def _needs_slurmdbd(self, slurm_accounting):
        if not slurm_accounting:
            pytest.skip("the dev cluster runs without slurmdbd (SLURM_DEV_ACCOUNTING=0)")

    @pytest.fixture
    def researchers(self, slurm_env):
        users = (slurm_env.get("SLURM_DEV_EXTRA_USERS") or "").split(",")
        if len(users) < 2:
            pytest.skip("needs two researcher identities (SLURM_DEV_EXTRA_USERS)")
        return users[:2]

    def test_an_account_is_enforced_at_submit(
        self, slurm, slurm_workdir, researchers, wait_for_job
    ):
        member, outsider = researchers
        account = unique("tenant")
        slurm.ensure_account(account, users=[member], description="test tenant")
        slurm.ensure_account(account, users=[member])  # idempotent
        assert account in {a.name for a in slurm.accounts()}
        assert {a.user for a in slurm.associations(account=account)} == {None, member}

        job_id = slurm.submit(spec(slurm_workdir, account=account), user=member)
        assert wait_for_job(job_id, user=member).account == account
        with pytest.raises(SlurmError) as caught:
            slurm.submit(spec(slurm_workdir, account=account), user=outsider)
        assert caught.value.refusal and caught.value.error_code == 2045

    def test_accounting_keeps_a_finished_job(self, slurm, slurm_workdir, wait_for_job):
        name = unique("acct")
        job_id = slurm.submit(
            spec(slurm_workdir, name=name, partition="gpu", gpus=1, comment="park-job:acct")
        )
        wait_for_job(job_id)
        job = None
        for _ in range(40):  # slurmdbd completes the record a moment after the end
            job = slurm.accounting_job(job_id, name=name)
            if job is not None and job.state.is_final and job.name == name:
                break
            time.sleep(0.25)
        assert job is not None and job.state is JobState.COMPLETED
        assert (job.name, job.comment, job.gpus) == (name, "park-job:acct", 1)
        assert [j.job_id for j in slurm.accounting_jobs(name=name)] == [job_id]


def test_a_job_pinned_to_a_node_runs_there(slurm, slurm_workdir, wait_for_job):
    job_id = slurm.submit(spec(slurm_workdir, partition="gpu", gpus=1, nodelist="gpu02"))
    assert wait_for_job(job_id).nodes == "gpu02"
