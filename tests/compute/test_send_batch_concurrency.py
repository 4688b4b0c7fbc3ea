"""Two workers draining one backlog at once on PostgreSQL: their batch claims never overlap,
every job is sent exactly once."""

from __future__ import annotations

import threading

import pytest
from django.db import connections

from booking.compute.models import ComputeJob, JobState
from booking.compute.sending import jobs_send_batch
from tests.compute.test_send_batch import CountingSlurm, stored

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def test_two_workers_send_each_job_once(park, settings, monkeypatch):
    settings.SLURM_SEND_THREADS = 2
    # A backlog: the jobs' own send tasks are not run (as while the queue was down).
    monkeypatch.setattr("booking.compute.services._start_send_task", lambda job_id, **kw: None)
    client = CountingSlurm()
    ids = stored(park, 60, client)
    barrier = threading.Barrier(2)
    errors: list[BaseException] = []

    def worker() -> None:
        try:
            barrier.wait()
            while jobs_send_batch(client=client, limit=7):
                pass
        except BaseException as error:  # reported below
            errors.append(error)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=worker) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors, errors
    names = [spec.name for spec, _user in client.submitted]
    assert len(names) == len(set(names)) == 60
    rows = ComputeJob.objects.filter(pk__in=ids)
    assert {r.state for r in rows} == {JobState.PENDING}
    assert len({r.slurm_job_id for r in rows}) == 60
