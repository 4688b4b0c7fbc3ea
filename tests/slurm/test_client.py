"""Client behaviour with a fake transport: error classification, retries, tokens.

The same calls run against the real cluster in test_cluster.py.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import httpx
import jwt
import pytest

from resources.slurm import JobSpec, SlurmClient, SlurmConfig, SlurmError, TokenSource

KEY = b"k" * 32
REPO = Path(__file__).resolve().parents[2]


def ok(**body):
    return httpx.Response(200, json={"meta": {}, "errors": [], **body})


def slurm_error(code, message, status=500):
    return httpx.Response(status, json={"errors": [{"error_code": code, "error": message}]})


class Fake:
    """A scripted slurmrestd: answers (or raises) in order and records every request."""

    def __init__(self, *answers):
        self.answers = list(answers)
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        answer = self.answers.pop(0) if len(self.answers) > 1 else self.answers[0]
        if isinstance(answer, Exception):
            raise answer
        return answer


def make_client(fake, tmp_path, **config):
    key_file = tmp_path / "jwt.key"
    key_file.write_bytes(KEY)
    sleeps: list[float] = []
    values = dict(base_url="http://slurm.test", user="parkbook", jwt_key_file=str(key_file))
    values.update(config)
    client = SlurmClient(
        SlurmConfig(**values), transport=httpx.MockTransport(fake), sleep=sleeps.append
    )
    client.sleeps = sleeps
    return client


SPEC = JobSpec(
    script="#!/bin/sh\ntrue\n", name="park-1", working_directory="/w", time_limit_minutes=5
)


def test_every_request_carries_user_name_and_a_valid_token(tmp_path):
    fake = Fake(ok(pings=[{"hostname": "ctl", "ping": "UP", "mode": "primary"}]))
    client = make_client(fake, tmp_path)
    assert client.ping().up
    request = fake.requests[0]
    assert request.url.path == "/slurm/v0.0.38/ping"
    assert request.headers["X-SLURM-USER-NAME"] == "parkbook"
    claims = jwt.decode(request.headers["X-SLURM-USER-TOKEN"], KEY, algorithms=["HS256"])
    assert claims["sun"] == "parkbook" and claims["exp"] > claims["iat"]


def test_submit_returns_the_job_id_and_can_act_as_another_user(tmp_path):
    fake = Fake(ok(job_id=77, step_id="BATCH"))
    client = make_client(fake, tmp_path)
    assert client.submit(SPEC, user="alice") == 77
    token = fake.requests[0].headers["X-SLURM-USER-TOKEN"]
    assert jwt.decode(token, KEY, algorithms=["HS256"])["sun"] == "alice"
    assert fake.requests[0].headers["X-SLURM-USER-NAME"] == "alice"


def test_a_slurm_refusal_is_raised_at_once_with_slurms_code(tmp_path):
    fake = Fake(slurm_error(2014, "Requested node configuration is not available"))
    client = make_client(fake, tmp_path)
    with pytest.raises(SlurmError) as caught:
        client.submit(SPEC)
    error = caught.value
    assert (error.error_code, error.http_status) == (2014, 500)
    assert error.refusal and not error.transient and not error.ambiguous
    assert "node configuration" in error.message
    assert len(fake.requests) == 1


def test_a_refusal_on_a_read_is_not_retried_either(tmp_path):
    fake = Fake(slurm_error(2000, "Invalid partition name specified"))
    client = make_client(fake, tmp_path)
    with pytest.raises(SlurmError):
        client.nodes()
    assert len(fake.requests) == 1


def test_parse_errors_and_missing_auth_are_refusals(tmp_path):
    for response in (httpx.Response(400, text="Unable to parse query."), httpx.Response(401)):
        client = make_client(Fake(response), tmp_path)
        with pytest.raises(SlurmError) as caught:
            client.ping()
        assert caught.value.refusal and caught.value.http_status == response.status_code


def test_reads_are_retried_with_growing_backoff_on_transient_failures(tmp_path):
    fake = Fake(
        httpx.ConnectError("refused"),
        httpx.Response(503),
        httpx.ReadTimeout("slow"),
        ok(nodes=[]),
    )
    client = make_client(fake, tmp_path, backoff=0.1)
    assert client.nodes() == []
    assert len(fake.requests) == 4
    assert len(client.sleeps) == 3
    # Exponential with jitter in [0.5, 1): 0.05-0.1, 0.1-0.2, 0.2-0.4.
    for attempt, slept in enumerate(client.sleeps):
        assert 0.1 * 2**attempt * 0.5 <= slept <= 0.1 * 2**attempt


def test_retries_give_up_after_the_configured_count(tmp_path):
    fake = Fake(httpx.ConnectError("refused"))
    client = make_client(fake, tmp_path, retries=2)
    with pytest.raises(SlurmError) as caught:
        client.partitions()
    assert caught.value.transient and caught.value.http_status is None
    assert len(fake.requests) == 3


def test_slurmctld_unreachable_is_transient(tmp_path):
    fake = Fake(
        slurm_error(1800, "Unable to contact slurm controller (connect failure)"), ok(nodes=[])
    )
    client = make_client(fake, tmp_path)
    assert client.nodes() == []
    assert len(fake.requests) == 2


def test_submit_is_retried_when_the_request_surely_did_not_reach_slurm(tmp_path):
    fake = Fake(
        httpx.ConnectError("refused"),
        httpx.Response(503),
        slurm_error(1800, "Unable to contact slurm controller (connect failure)"),
        ok(job_id=5),
    )
    client = make_client(fake, tmp_path)
    assert client.submit(SPEC) == 5
    assert len(fake.requests) == 4


@pytest.mark.parametrize(
    "failure",
    [
        httpx.ReadTimeout("no answer"),
        httpx.RemoteProtocolError("Server disconnected without sending a response."),
        httpx.Response(504),
        httpx.Response(502),
    ],
    ids=["read-timeout", "dropped", "504", "502"],
)
def test_submit_is_not_retried_blindly_after_an_ambiguous_failure(tmp_path, failure):
    fake = Fake(failure, ok(job_id=6))
    client = make_client(fake, tmp_path)
    with pytest.raises(SlurmError) as caught:
        client.submit(SPEC)
    assert caught.value.ambiguous and caught.value.transient
    assert len(fake.requests) == 1


def test_submit_asks_the_reconcile_hook_before_sending_again(tmp_path):
    fake = Fake(httpx.ReadTimeout("no answer"), ok(job_id=6))
    client = make_client(fake, tmp_path)
    asked = []
    assert client.submit(SPEC, reconcile=lambda: asked.append(1) or 41) == 41
    assert len(fake.requests) == 1 and asked == [1]


def test_submit_sends_again_when_the_reconcile_hook_finds_nothing(tmp_path):
    fake = Fake(httpx.ReadTimeout("no answer"), ok(job_id=6))
    client = make_client(fake, tmp_path)
    assert client.submit(SPEC, reconcile=lambda: None) == 6
    assert len(fake.requests) == 2


def test_an_unknown_job_reads_as_none_and_cancels_as_false(tmp_path):
    gone = slurm_error(2017, "Invalid job id specified")
    client = make_client(Fake(gone), tmp_path)
    assert client.get_job(99) is None
    assert client.cancel(99) is False


def test_cancel_sends_delete(tmp_path):
    fake = Fake(ok())
    client = make_client(fake, tmp_path)
    assert client.cancel(12) is True
    assert (fake.requests[0].method, fake.requests[0].url.path) == (
        "DELETE",
        "/slurm/v0.0.38/job/12",
    )


def test_list_jobs_reads_not_modified_as_none(tmp_path):
    fake = Fake(httpx.Response(304))
    client = make_client(fake, tmp_path)
    from datetime import UTC, datetime

    assert client.list_jobs(if_changed_since=datetime(2026, 1, 1, tzinfo=UTC)) is None
    assert fake.requests[0].url.params["update_time"] == str(
        int(datetime(2026, 1, 1, tzinfo=UTC).timestamp())
    )


def test_list_jobs_filters_by_id_and_name(tmp_path):
    jobs = [
        {"job_id": 1, "name": "park-1", "job_state": "RUNNING"},
        {"job_id": 2, "name": "other", "job_state": "RUNNING"},
        {"job_id": 3, "name": "park-3", "job_state": "PENDING"},
    ]
    client = make_client(Fake(ok(jobs=jobs)), tmp_path)
    assert [j.job_id for j in client.list_jobs(name_prefix="park-")] == [1, 3]
    assert [j.job_id for j in client.list_jobs(job_ids=[2, 3])] == [2, 3]


def test_list_jobs_decodes_only_the_wanted_jobs(tmp_path):
    jobs = [
        {"job_id": 1, "name": "park-1", "job_state": "RUNNING"},
        # Another user's job, in a shape the decoder cannot read: with ids it is never decoded.
        {"job_id": 2, "name": "other", "job_state": "RUNNING", "tres_alloc_str": 5},
        {"job_id": 3, "name": "park-3", "job_state": "PENDING"},
    ]
    client = make_client(Fake(ok(jobs=jobs)), tmp_path)
    assert [j.job_id for j in client.list_jobs(job_ids=[3, 1])] == [1, 3]
    assert client.list_jobs(job_ids=[]) == []
    # By name too (the sender's look-up of its earlier attempts).
    assert [j.job_id for j in client.list_jobs(name_prefix="park-")] == [1, 3]
    with pytest.raises(TypeError):  # decoded, that record breaks the read
        client.list_jobs()


def test_an_empty_accounting_query_is_an_empty_list(tmp_path):
    client = make_client(Fake(slurm_error(9003, "Nothing found")), tmp_path)
    assert client.associations(account="nobody") == []


def test_tokens_are_reused_then_refreshed_before_expiry():
    now = [1_000_000.0]
    tokens = TokenSource(
        user="parkbook", key=KEY, lifetime=600, refresh_margin=60, clock=lambda: now[0]
    )
    first = tokens.token_for()
    now[0] += 500
    assert tokens.token_for() == first
    now[0] += 50  # 50 s left: inside the margin
    second = tokens.token_for()
    assert second != first
    assert jwt.decode(second, KEY, algorithms=["HS256"], options={"verify_exp": False})[
        "iat"
    ] == int(now[0])


def test_a_supplied_token_serves_only_its_user():
    tokens = TokenSource(user="parkbook", token="abc")
    assert tokens.token_for() == "abc"
    with pytest.raises(SlurmError, match="alice"):
        tokens.token_for("alice")


def test_a_key_or_a_token_is_required():
    with pytest.raises(ValueError):
        TokenSource(user="parkbook")


def test_importing_the_client_does_not_import_django():
    code = "import sys, resources.slurm; assert 'django' not in sys.modules, 'django imported'"
    subprocess.run([sys.executable, "-c", code], cwd=REPO, check=True)


def test_client_from_settings_reads_django_settings_when_called(settings, tmp_path):
    from resources.slurm import client_from_settings

    key_file = tmp_path / "jwt.key"
    key_file.write_bytes(KEY)
    settings.SLURM_REST_URL = "http://slurm.test:6820"
    settings.SLURM_API_VERSION = "v0.0.38"
    settings.SLURM_USER = "parkbook"
    settings.SLURM_JWT_KEY_FILE = str(key_file)
    settings.SLURM_TOKEN = ""
    settings.SLURM_CLUSTER = "parkdev"
    settings.SLURM_TIMEOUT = 2.5
    with client_from_settings() as client:
        assert client.config.base_url == "http://slurm.test:6820"
        assert client.config.cluster == "parkdev"
        assert client.config.timeout == 2.5
        assert client.tokens.can_mint


def test_client_from_settings_refuses_without_a_url(settings):
    from django.core.exceptions import ImproperlyConfigured

    from resources.slurm import client_from_settings

    settings.SLURM_REST_URL = ""
    with pytest.raises(ImproperlyConfigured, match="SLURM_REST_URL"):
        client_from_settings()


def test_notes_in_a_successful_answer_are_not_errors(tmp_path):
    held = httpx.Response(
        200,
        json={"errors": [{"error_code": 2042, "error": "Job is in held state"}], "job_id": 8},
    )
    client = make_client(Fake(held), tmp_path)
    assert client.submit(SPEC) == 8


def test_accounting_job_picks_the_named_latest_record_when_an_id_was_reused(tmp_path):
    """A controller whose state was reset numbers jobs from 1 again; accounting keeps both."""

    def record(name, submitted, state):
        return {
            "job_id": 151,
            "name": name,
            "state": {"current": state},
            "time": {"submission": submitted, "start": submitted, "end": submitted + 5},
        }

    fake = Fake(
        ok(
            jobs=[
                record("bench-raw", 1_700_000_000, "CANCELLED"),
                record("acct-new", 1_800_000_000, "COMPLETED"),
                record("acct-old", 1_750_000_000, "FAILED"),
            ]
        )
    )
    client = make_client(fake, tmp_path)
    assert client.accounting_job(151).name == "acct-new"
    assert client.accounting_job(151, name="bench-raw").state.value == "CANCELLED"
    assert client.accounting_job(151, name="never-ran") is None
