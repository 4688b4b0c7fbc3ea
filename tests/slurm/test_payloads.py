"""The v0.0.38 payload mapping: JobSpec to JSON and JSON back to typed records."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from resources.slurm import JobSpec, JobState
from resources.slurm.hostlist import expand_hostlist
from resources.slurm.payloads import V0038, mapping_for

NOW = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
M = V0038()


def spec(**overrides):
    values = dict(
        script="#!/bin/bash\necho hi\n",
        name="park-7",
        working_directory="/srv/jobs",
        time_limit_minutes=30,
    )
    values.update(overrides)
    return JobSpec(**values)


def test_it_encodes_gpus_as_gres_with_the_gpu_model():
    body = M.encode_job(spec(partition="gpu", gpus=2, gpu_type="h100", cpus=4), now=NOW)
    job = body["job"]
    assert body["script"].startswith("#!/bin/bash")
    assert job["gres"] == "gpu:h100:2"
    assert job["partition"] == "gpu"
    assert job["cpus_per_task"] == 4
    assert job["time_limit"] == 30


def test_it_encodes_any_gpu_model_without_a_type():
    assert M.encode_job(spec(gpus=1), now=NOW)["job"]["gres"] == "gpu:1"
    assert "gres" not in M.encode_job(spec(), now=NOW)["job"]


def test_it_always_sends_working_directory_environment_object_and_integer_nodes():
    job = M.encode_job(spec(environment={"A": "1"}), now=NOW)["job"]
    assert job["current_working_directory"] == "/srv/jobs"
    assert job["environment"] == {"A": "1"}
    assert job["nodes"] == 1 and isinstance(job["nodes"], int)


def test_it_sends_begin_time_as_a_relative_string():
    job = M.encode_job(spec(begin_time=NOW + timedelta(minutes=5)), now=NOW)["job"]
    assert job["begin_time"] == "now+300"


def test_it_drops_a_begin_time_in_the_past():
    job = M.encode_job(spec(begin_time=NOW - timedelta(minutes=5)), now=NOW)["job"]
    assert "begin_time" not in job


def test_it_carries_account_comment_memory_and_output():
    job = M.encode_job(
        spec(account="acme", comment="park-job:7", memory_mb=2048, standard_output="/o/%j.out"),
        now=NOW,
    )["job"]
    assert job["account"] == "acme"
    assert job["comment"] == "park-job:7"
    assert job["memory_per_node"] == 2048
    assert job["standard_output"] == "/o/%j.out"


def test_spec_refuses_nonsense():
    with pytest.raises(ValueError):
        spec(time_limit_minutes=0)
    with pytest.raises(ValueError):
        spec(gpus=-1)
    with pytest.raises(ValueError):
        spec(begin_time=datetime(2026, 1, 1))


def job_json(**overrides):
    base = {
        "job_id": 42,
        "name": "park-7",
        "comment": "park-job:7",
        "account": "acme",
        "partition": "gpu",
        "user_name": "alice",
        "nodes": "gpu03",
        "job_state": "FAILED",
        "state_reason": "NonZeroExitCode",
        "exit_code": 768,
        "cpus": 2,
        "time_limit": 5,
        "submit_time": 1795422600,
        "start_time": 1795422636,
        "end_time": 1795422636 + 1800,
        "tres_req_str": "cpu=2,mem=1G,node=1,billing=2,gres/gpu=2,gres/gpu:h100=2",
        "tres_alloc_str": "cpu=2,mem=1G,node=1,billing=2,gres/gpu=2,gres/gpu:h100=2",
        "standard_output": "/srv/jobs/park-7.out",
    }
    base.update(overrides)
    return {"jobs": [base], "errors": []}


def test_it_decodes_the_raw_wait_status_into_exit_code():
    (job,) = M.decode_jobs(job_json())
    assert job.state is JobState.FAILED
    assert job.exit_code == 3
    assert job.exit_signal is None
    assert job.state_reason == "NonZeroExitCode"


def test_it_decodes_a_killing_signal():
    (job,) = M.decode_jobs(job_json(job_state="CANCELLED", exit_code=9))
    assert job.exit_code == 0 and job.exit_signal == 9


def test_it_decodes_times_gpus_and_gpu_hours():
    (job,) = M.decode_jobs(job_json(job_state="COMPLETED", exit_code=0))
    assert job.start_time == datetime.fromtimestamp(1795422636, tz=UTC)
    assert job.end_time - job.start_time == timedelta(minutes=30)
    assert job.gpus == 2
    assert job.gpu_hours == pytest.approx(1.0)
    assert (job.comment, job.account, job.user) == ("park-job:7", "acme", "alice")


def test_a_pending_job_has_no_real_start_end_or_exit_code():
    (job,) = M.decode_jobs(job_json(job_state="PENDING", tres_alloc_str="", exit_code=0))
    assert job.start_time is None and job.end_time is None and job.exit_code is None
    assert job.gpus == 2  # requested ones
    assert not job.state.is_final


def test_a_running_job_has_a_start_but_no_end():
    (job,) = M.decode_jobs(job_json(job_state="RUNNING", exit_code=0))
    assert job.start_time is not None and job.end_time is None


def test_unknown_states_do_not_crash():
    assert JobState.parse("SOMETHING_NEW") is JobState.UNKNOWN
    assert JobState.parse("CANCELLED by 0") is JobState.CANCELLED
    assert JobState.parse(None) is JobState.UNKNOWN


def test_it_decodes_nodes_with_gpu_model_and_count():
    body = {
        "nodes": [
            {
                "name": "gpu03",
                "state": "idle",
                "cpus": 32,
                "real_memory": 128000,
                "gres": "gpu:h100:8",
                "partitions": ["gpu"],
                "features": "h100",
            },
            {"name": "cpu01", "state": "mixed", "cpus": 64, "real_memory": 1, "gres": ""},
        ]
    }
    gpu, cpu = M.decode_nodes(body)
    assert (gpu.gpu_type, gpu.gpu_count, gpu.partitions) == ("h100", 8, ("gpu",))
    assert (cpu.gpu_type, cpu.gpu_count, cpu.state) == (None, 0, "mixed")


def test_it_decodes_partitions_and_expands_their_nodes():
    body = {
        "partitions": [
            {
                "name": "gpu",
                "nodes": "gpu[01-04]",
                "state": "UP",
                "total_cpus": 128,
                "total_nodes": 4,
                "max_time_limit": 10080,
                "default_time_limit": 60,
                "flags": [],
                "tres": "cpu=128,gres/gpu=24,gres/gpu:a100=8",
            },
            {"name": "cpu", "nodes": "cpu01", "flags": ["default"], "max_time_limit": -1},
        ]
    }
    gpu, cpu = M.decode_partitions(body)
    assert gpu.nodes == ("gpu01", "gpu02", "gpu03", "gpu04")
    assert (gpu.gpus, gpu.max_time_minutes, gpu.is_default) == (24, 10080, False)
    assert (cpu.is_default, cpu.max_time_minutes) == (True, None)


def test_it_reads_error_code_or_error_number():
    errors = M.decode_errors(
        {
            "errors": [
                {"error_code": 2014, "error": "Requested node configuration is not available"},
                {"error_number": 2017, "error": "Invalid job id specified", "description": "x"},
            ]
        }
    )
    assert [e["error_code"] for e in errors] == [2014, 2017]


def test_accounting_jobs_decode_state_times_gpus_and_comment():
    body = {
        "jobs": [
            {
                "job_id": 18,
                "name": "park-1",
                "account": "acme",
                "user": "alice",
                "comment": {"job": "park-job:1"},
                "state": {"current": "COMPLETED", "reason": "None"},
                "time": {"start": 1795422636, "end": 1795422636 + 3600, "limit": 60},
                "exit_code": {"status": "SUCCESS", "return_code": 0},
                "tres": {"allocated": [{"type": "gres", "name": "gpu", "count": 4}]},
            }
        ]
    }
    (job,) = M.decode_accounting_jobs(body)
    assert job.state is JobState.COMPLETED
    assert job.comment == "park-job:1"
    assert job.exit_code == 0
    assert job.gpu_hours == pytest.approx(4.0)


def test_accounting_does_not_invent_a_zero_exit_code_for_a_failed_job():
    body = {
        "jobs": [
            {
                "job_id": 18,
                "state": {"current": "FAILED"},
                "time": {"start": 1, "end": 2},
                "exit_code": {"status": "SUCCESS", "return_code": 0},
                "steps": [{"exit_code": {"status": "SUCCESS", "return_code": 0}}],
            }
        ]
    }
    (job,) = M.decode_accounting_jobs(body)
    assert job.exit_code is None


def test_only_known_api_versions_are_accepted():
    assert mapping_for("v0.0.38").version == "v0.0.38"
    with pytest.raises(ValueError, match="v0.0.40"):
        mapping_for("v0.0.40")


@pytest.mark.parametrize(
    ("text", "names"),
    [
        ("gpu[01-03]", ["gpu01", "gpu02", "gpu03"]),
        ("gpu[01,03-04],cpu01", ["gpu01", "gpu03", "gpu04", "cpu01"]),
        ("n[8-10]", ["n8", "n9", "n10"]),
        ("", []),
        ("(null)", []),
    ],
)
def test_hostlists_expand(text, names):
    assert expand_hostlist(text) == names


def test_it_submits_held_only_when_asked():
    assert M.encode_job(spec(hold=True), now=NOW)["job"]["hold"] is True
    assert "hold" not in M.encode_job(spec(), now=NOW)["job"]


def test_it_pins_a_job_to_a_node_with_a_nodelist_string():
    assert M.encode_job(spec(nodelist="gpu02"), now=NOW)["job"]["nodelist"] == "gpu02"
