"""The demo park's two clusters: its own in Hong Kong and the GBA hub on the Mainland, with two
A800 nodes in the hub (the dev cluster script's ``hub01``/``hub02``), tenants with different
data policies and cross-boundary approvals (a live one and an expired one, for the audit)."""

from __future__ import annotations

import datetime as dt
import random
from decimal import Decimal

from booking.bookings.services import booking_create_instant
from booking.compute.models import ComputeJob, JobState
from booking.compute.residency import CrossBoundaryApproval, DataClass, TenantDataPolicy
from booking.compute.slurm import job_output_path
from booking.demo.jobs import DEMO_SCRIPT, DEMO_SLURM_IDS, output_text
from booking.errors import ParkError
from booking.tenancy.models import Membership, Tenant, Tier
from resources.cluster_setup import demo_clusters
from resources.models import Location, Park, ResourceKind, ResourcePool
from resources.services import gpu_node_create

HUB_NODES = ("hub01", "hub02")
HUB_SLURM_IDS = DEMO_SLURM_IDS + 500_000  # the hub numbers its own jobs


def clusters_register() -> None:
    """Both clusters, before any demo job is made (each job records where it ran)."""
    demo_clusters()


def clusters_make(*, operator, now: dt.datetime, files: list[tuple[str, str]]) -> dict[str, int]:
    """Put the hub's nodes in the catalogue, give three tenants their own data policy and run
    a few finished jobs on the hub whose data may go there (their output files are added to
    ``files``). Returns counts for the report."""
    park, hub = demo_clusters()
    shenzhen = Location.objects.get(level=Location.Level.PARK, park=Park.SHENZHEN)
    centre = Location.objects.create(
        name="GBA hub node (Mainland)", level=Location.Level.BUILDING, parent=shenzhen, park="sz"
    )
    nodes = [
        gpu_node_create(
            name=f"A800 node {node} (GBA hub)",
            slug=node,
            location=centre,
            gpu_model="A800",
            gpu_count=4,
            gpu_memory_gb=80,
            cpus=64,
            memory_gb=512,
            slurm_cluster=hub.name,
            slurm_partition="gpu",
            slurm_node=node,
            min_length_minutes=60,
            max_length_minutes=48 * 60,
            slot_minutes=60,
            horizon_days=28,
            min_notice_minutes=0,
        )
        for node in HUB_NODES
    ]
    pool = ResourcePool.objects.create(
        name="Any A800 node (GBA hub)", slug="any-a800", kind=ResourceKind.GPU_NODE
    )
    pool.members.set(nodes)

    tenants = list(Tenant.objects.filter(active=True).order_by("pk"))
    startup = next(t for t in tenants if t.tier == Tier.STARTUP)
    enterprise = next(t for t in tenants if t.tier == Tier.ENTERPRISE)
    academic = next(t for t in tenants if t.tier == Tier.ACADEMIC)
    # A start-up whose data is open by default (it may overflow to the hub).
    TenantDataPolicy.objects.create(tenant=startup, default_data_class=DataClass.OPEN)
    # A research institute holding patient data: personal by default, the park's cluster only.
    personal = TenantDataPolicy.objects.create(
        tenant=academic, default_data_class=DataClass.PERSONAL, open_data_on_mainland=False
    )
    personal.allowed_clusters.set([park])
    # An enterprise with an operator's cross-boundary approval (and an earlier, expired one).
    TenantDataPolicy.objects.create(tenant=enterprise, default_data_class=DataClass.HK_ONLY)
    CrossBoundaryApproval.objects.create(
        tenant=enterprise,
        granted_by=operator,
        expires_at=now + dt.timedelta(days=90),
        reference="CB-2026-014",
    )
    CrossBoundaryApproval.objects.create(
        tenant=enterprise,
        granted_by=operator,
        expires_at=now - dt.timedelta(days=20),
        reference="CB-2026-003",
    )
    booked = _hub_bookings(nodes=nodes, members=[startup, enterprise], now=now)
    jobs = _hub_jobs(
        hub=hub,
        pool=pool,
        now=now,
        files=files,
        tenants=[(startup, DataClass.OPEN), (enterprise, DataClass.CROSS_BOUNDARY_APPROVED)],
    )
    return {
        "clusters": 2,
        "hub_nodes": len(nodes),
        "data_policies": 3,
        "hub_jobs": jobs,
        "hub_bookings": booked,
    }


def _hub_bookings(*, nodes, members, now: dt.datetime) -> int:
    """Hub nodes booked over the past month and the coming week and a half by the tenants whose data
    may go there, through the instant-booking rules (a refused one is left out)."""
    made = 0
    today = now.replace(hour=10, minute=0, second=0, microsecond=0)
    for i, node in enumerate(nodes):
        for j, days in enumerate((-27, -23, -19, -15, -12, -9, -5, -2, 1, 3, 6, 9)):
            tenant = members[(i + j) % len(members)]
            member = Membership.objects.filter(tenant=tenant).select_related("user").first()
            start = today + dt.timedelta(days=days)
            try:
                booking_create_instant(
                    user=member.user,
                    tenant=tenant,
                    resource=node,
                    start=start,
                    end=start + dt.timedelta(hours=6),
                    units=2,
                    title="overflow training",
                    now=start - dt.timedelta(hours=1),
                )
            except ParkError:
                continue
            made += 1
    return made


def _hub_jobs(*, hub, pool, now: dt.datetime, files, tenants) -> int:
    """Finished overflow jobs on the hub over the past two weeks (no Slurm job ran)."""
    made, rng = 0, random.Random(len(tenants))
    for n, (tenant, data_class) in enumerate(tenants):
        member = Membership.objects.filter(tenant=tenant).select_related("user").first()
        if member is None:
            continue
        for day in (3, 6, 10, 13):
            started = (now - dt.timedelta(days=day)).replace(minute=0, second=0, microsecond=0)
            job = ComputeJob(
                tenant=tenant,
                user=member.user,
                pool=pool,
                cluster=hub,
                data_class=data_class,
                name="overflow-train",
                script=DEMO_SCRIPT.format(name="overflow-train"),
                partition="gpu",
                gpus=4,
                cpus=32,
                memory_mb=131072,
                time_limit_minutes=600,
                state=JobState.COMPLETED,
                slurm_job_id=HUB_SLURM_IDS + n * 100 + day,
                submitted_at=started - dt.timedelta(minutes=5),
                started_at=started,
                ended_at=started + dt.timedelta(hours=6),
                exit_code=0,
                gpu_hours=Decimal("24.0000"),
            )
            job.full_clean(exclude=["tenant", "user", "pool", "cluster"])
            job.save()
            files.append((job_output_path(job), output_text(job, rng, steps=10)))
            made += 1
    return made
