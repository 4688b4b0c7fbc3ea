"""Fixtures for tests against the dev Slurm cluster (scripts/slurm-dev-cluster up).

The connection comes from SLURM_* environment variables, or else from the env file the script
writes (var/slurm/env, or $SLURM_DEV_DIR/env). Without either the tests are skipped locally; in
CI (CI=true or PARK_REQUIRE_ALL=1) they fail instead, so nothing is skipped silently there.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from resources.slurm import JobInfo, SlurmClient, SlurmError, config_from_env

REPO = Path(__file__).resolve().parents[2]
REQUIRE_ALL = os.environ.get("PARK_REQUIRE_ALL", "") == "1" or os.environ.get("CI", "") == "true"


def _skip_or_fail(reason: str) -> None:
    if REQUIRE_ALL:
        pytest.fail(f"required in CI: {reason}")
    pytest.skip(reason)


def read_env_file(path: Path) -> dict[str, str]:
    values = {}
    for line in path.read_text().splitlines():
        line = line.strip()
        if not line or line.startswith("#") or "=" not in line:
            continue
        key, value = line.removeprefix("export ").split("=", 1)
        values[key.strip()] = value.strip().strip('"')
    return values


@pytest.fixture(scope="session")
def slurm_env() -> dict[str, str]:
    """SLURM_* settings of a running dev cluster."""
    if os.environ.get("SLURM_REST_URL"):
        return {k: v for k, v in os.environ.items() if k.startswith("SLURM")}
    env_file = Path(os.environ.get("SLURM_DEV_DIR") or REPO / "var" / "slurm") / "env"
    if not env_file.exists():
        _skip_or_fail(
            "no Slurm cluster: SLURM_REST_URL is unset and there is no "
            f"{env_file.relative_to(REPO) if env_file.is_relative_to(REPO) else env_file} "
            "(run scripts/slurm-dev-cluster up)"
        )
    return read_env_file(env_file)


@pytest.fixture(scope="session")
def slurm(slurm_env) -> Iterator[SlurmClient]:
    """A client for the dev cluster; skips (fails in CI) when it does not answer."""
    client = SlurmClient(config_from_env(slurm_env))
    try:
        client.ping()
    except SlurmError as error:
        client.close()
        _skip_or_fail(
            f"Slurm at {slurm_env['SLURM_REST_URL']} does not answer ({error}); "
            "run scripts/slurm-dev-cluster up"
        )
    yield client
    client.close()


@pytest.fixture(scope="session")
def slurm_accounting(slurm_env) -> bool:
    return slurm_env.get("SLURM_DEV_ACCOUNTING") == "1"


@pytest.fixture(scope="session")
def slurm_workdir(slurm_env) -> str:
    return slurm_env.get("SLURM_WORKDIR") or "/tmp"


@pytest.fixture
def wait_for_job(slurm) -> Callable[..., JobInfo]:
    """Poll a job until ``until(job)`` holds (default: it ended); fail after ``timeout`` s."""

    def wait(job_id: int, *, until=None, timeout: float = 60.0, user: str | None = None):
        until = until or (lambda job: job.state.is_final)
        deadline = time.monotonic() + timeout
        while True:
            job = slurm.get_job(job_id, user=user)
            if job is not None and until(job):
                return job
            if time.monotonic() > deadline:
                pytest.fail(f"job {job_id} did not reach the expected state in {timeout}s: {job}")
            time.sleep(0.25)

    return wait
