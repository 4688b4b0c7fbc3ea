"""Compute jobs for the demo: finished ones on past GPU bookings and a few running now, each
with an output file. No Slurm job ever ran: the rows say so in their script ("demo data") and
carry Slurm ids from ``DEMO_SLURM_IDS`` on, far above what a dev cluster hands out."""

from __future__ import annotations

import datetime as dt
import random
from decimal import Decimal
from pathlib import Path

from booking.bookings.models import Booking
from booking.bookings.services import booking_create_instant
from booking.compute.models import ComputeJob, JobState
from booking.compute.slurm import job_output_path
from booking.tenancy.models import Membership
from resources.clusters import cluster_named, default_cluster
from resources.models import Resource, ResourceKind

DEMO_SLURM_IDS = 8_100_000
DEMO_SCRIPT = (
    "#!/bin/bash\n"
    "# demo data: this job record was made by manage.py demo_park; no Slurm job ran.\n"
    "srun python train.py --config {name}.yaml\n"
)
NAMES = ["llm-finetune", "alphafold-batch", "segmentation", "diffusion-sample", "embedding-index"]
END_STATES = [JobState.COMPLETED] * 6 + [JobState.FAILED, JobState.TIMEOUT, JobState.CANCELLED]
EXIT_CODES = {JobState.COMPLETED: 0, JobState.FAILED: 1, JobState.TIMEOUT: 0, JobState.CANCELLED: 0}


def output_text(job: ComputeJob, rng: random.Random, *, steps: int) -> str:
    lines = [f"[park] job {job.name} on {job.partition}, {job.gpus} GPU(s)"]
    loss = 2.5 + rng.random()
    for step in range(1, steps + 1):
        loss *= 0.9 + rng.random() * 0.05
        lines.append(f"step {step * 100:>6}  loss {loss:.4f}  {rng.randint(900, 1400)} samples/s")
    if job.state == JobState.COMPLETED:
        lines.append("done: checkpoint saved to out/final.ckpt")
    elif job.state == JobState.FAILED:
        lines.append("RuntimeError: CUDA out of memory. Tried to allocate 2.00 GiB")
    elif job.state == JobState.TIMEOUT:
        lines.append("slurmstepd: error: *** JOB CANCELLED DUE TO TIME LIMIT ***")
    elif job.state == JobState.CANCELLED:
        lines.append("slurmstepd: error: *** JOB CANCELLED ***")
    return "\n".join(lines) + "\n"


def _job(booking: Booking, *, rng, number, state, started, ended, now) -> ComputeJob:
    name = rng.choice(NAMES)
    limit = max(30, int((booking.end - started).total_seconds() // 60))
    job = ComputeJob(
        tenant=booking.tenant,
        user=booking.user,
        booking=booking,
        cluster=cluster_named(booking.resource.gpu.slurm_cluster) or default_cluster(),
        name=name,
        script=DEMO_SCRIPT.format(name=name),
        partition=booking.resource.gpu.slurm_partition,
        gpus=booking.units,
        cpus=8 * booking.units,
        memory_mb=32768 * booking.units,
        time_limit_minutes=limit,
        state=state,
        slurm_job_id=DEMO_SLURM_IDS + number,
        submitted_at=started - dt.timedelta(minutes=2),
        started_at=started,
        ended_at=ended,
        exit_code=EXIT_CODES.get(state) if ended else None,
        gpu_hours=Decimal(0),
    )
    if ended is not None:
        hours = Decimal(str((ended - started).total_seconds())) / Decimal(3600)
        job.gpu_hours = (hours * booking.units).quantize(Decimal("0.0001"))
    job.full_clean(exclude=["tenant", "user", "booking", "pool", "cluster"])
    job.save()
    return job


def running_booking_make(*, favourite: Membership, now: dt.datetime) -> Booking | None:
    """A booking in progress on an A100 node (made first, so the calendars book around it)."""
    node = Resource.objects.filter(kind=ResourceKind.GPU_NODE, slug="gpu01").first()
    if node is None:
        return None
    start = now.replace(minute=0, second=0, microsecond=0) - dt.timedelta(hours=2)
    return booking_create_instant(
        user=favourite.user,
        tenant=favourite.tenant,
        resource=node,
        start=start,
        end=start + dt.timedelta(hours=8),
        units=2,
        title="overnight fine-tune",
        now=start - dt.timedelta(hours=1),
    )


def jobs_make(
    *, past: list[Booking], running: Booking | None, rng: random.Random, now: dt.datetime
) -> list[tuple[str, str]]:
    """Jobs on past GPU bookings and two on the ``running`` one; returns the output files to
    write (path, text) once the build has committed."""
    files: list[tuple[str, str]] = []
    number = 0
    gpu_past = [b for b in past if b.resource.kind == ResourceKind.GPU_NODE]
    for booking in gpu_past:
        start = booking.start + dt.timedelta(minutes=rng.randint(1, 20))
        for _n in range(rng.choice([1, 1, 2])):
            end = min(booking.end, start + dt.timedelta(minutes=rng.randint(40, 300)))
            if end <= start:
                break
            number += 1
            job = _job(
                booking,
                rng=rng,
                number=number,
                state=rng.choice(END_STATES),
                started=start,
                ended=end,
                now=now,
            )
            files.append((job_output_path(job), output_text(job, rng, steps=rng.randint(5, 30))))
            start = end + dt.timedelta(minutes=5)
    if running is None:
        return files
    start = running.start
    for offset in (5, 35):
        number += 1
        job = _job(
            running,
            rng=rng,
            number=number,
            state=JobState.RUNNING,
            started=start + dt.timedelta(minutes=offset),
            ended=None,
            now=now,
        )
        job.gpus = 1
        job.save(update_fields=["gpus"])
        files.append((job_output_path(job), output_text(job, rng, steps=12)))
    return files


def outputs_write(files: list[tuple[str, str]]) -> None:
    for path, text in files:
        target = Path(path)
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text, encoding="utf-8")
