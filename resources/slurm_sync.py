"""Import the cluster's GPU nodes into the catalogue and report drift between the two.

Slurm is the truth for what a node has (GPU model and count, CPUs, memory, partition); the
catalogue adds what Slurm does not know (name, location, booking rules, GPU memory).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from django.db import transaction
from django.utils.text import slugify

from resources.models import GpuNode, Location, Park, Resource, ResourceKind, ResourcePool
from resources.services import gpu_node_create
from resources.slurm import NodeInfo, SlurmClient

# Slurm does not report GPU memory; known models get their usual size, others a placeholder
# the operator corrects in the admin.
GPU_MEMORY_GB = {"a100": 80, "h100": 80, "h200": 141, "l40s": 48, "a800": 80, "h800": 80}
DEFAULT_GPU_MEMORY_GB = 16


@dataclass
class SyncReport:
    cluster: str
    partitions: list[str] = field(default_factory=list)
    created: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    drift: list[str] = field(default_factory=list)
    missing_in_slurm: list[str] = field(default_factory=list)
    unavailable: list[str] = field(default_factory=list)
    pools: list[str] = field(default_factory=list)

    @property
    def in_step(self) -> bool:
        """Catalogue and Slurm agree (after any changes this run made)."""
        return not self.drift and not self.missing_in_slurm


def slurm_nodes_sync(
    *,
    client: SlurmClient,
    cluster: str,
    apply: bool = False,
    location: Location | None = None,
) -> SyncReport:
    """Compare Slurm's GPU nodes with the catalogue's GPU nodes of ``cluster``.

    In: a client for the cluster and its name as the catalogue records it. With ``apply``,
    nodes missing from the catalogue are created (in ``location``, else where the cluster's
    other nodes are, else a new "Computing centre"), drifted fields are set to Slurm's values and
    an "any <model>" pool per GPU model gathers the nodes. Nodes the catalogue has but Slurm does
    not are reported, never deleted. Out: a ``SyncReport``.
    """
    report = SyncReport(cluster=cluster)
    for part in client.partitions():
        report.partitions.append(
            f"{part.name}: {part.total_nodes} nodes, {part.gpus} GPUs, {part.state}"
            + (f", max {part.max_time_minutes} min" if part.max_time_minutes else "")
        )
    slurm_nodes = {n.name: n for n in client.nodes() if n.gpu_count > 0}
    catalogue = {
        g.slurm_node: g
        for g in GpuNode.objects.filter(slurm_cluster=cluster).select_related("resource")
    }
    with transaction.atomic():
        for name, node in sorted(slurm_nodes.items()):
            if node.state.split("+")[0] in {
                "down",
                "drain",
                "drained",
                "draining",
                "fail",
                "inval",
            }:
                report.unavailable.append(f"{name}: {node.state} {node.reason}".strip())
            known = catalogue.get(name)
            if known is None:
                if apply:
                    where = location or _default_location(cluster)
                    resource = _create(node=node, cluster=cluster, location=where)
                    report.created.append(f"{name} → {resource.slug}")
                else:
                    report.drift.append(f"{name}: in Slurm, not in the catalogue")
                continue
            changes = _differences(known, node)
            if not changes:
                continue
            text = f"{name}: " + ", ".join(
                f"{f} {old} → {new}" for f, (old, new) in changes.items()
            )
            if apply:
                _update(known, changes)
                report.updated.append(text)
            else:
                report.drift.append(text)
        for name in sorted(set(catalogue) - set(slurm_nodes)):
            report.missing_in_slurm.append(
                f"{name} ({catalogue[name].resource.slug}): in the catalogue, not in Slurm"
            )
        if apply:
            report.pools = _pools_by_model(cluster)
    return report


def _differences(known: GpuNode, node: NodeInfo) -> dict[str, tuple]:
    changes: dict[str, tuple] = {}
    model = (node.gpu_type or "").upper()
    if model and known.gpu_model.upper() != model:
        changes["gpu_model"] = (known.gpu_model, model)
    if known.gpu_count != node.gpu_count:
        changes["gpu_count"] = (known.gpu_count, node.gpu_count)
    if node.partitions and known.slurm_partition not in node.partitions:
        changes["slurm_partition"] = (known.slurm_partition, node.partitions[0])
    if node.cpus and known.cpus != node.cpus:
        changes["cpus"] = (known.cpus, node.cpus)
    memory_gb = max(1, node.memory_mb // 1024)
    if node.memory_mb and known.memory_gb != memory_gb:
        changes["memory_gb"] = (known.memory_gb, memory_gb)
    return changes


def _update(known: GpuNode, changes: dict[str, tuple]) -> None:
    for name, (_old, new) in changes.items():
        setattr(known, name, new)
    known.full_clean()
    known.save()
    if "gpu_count" in changes:
        Resource.objects.filter(pk=known.resource_id).update(capacity=known.gpu_count)


def _create(*, node: NodeInfo, cluster: str, location: Location) -> Resource:
    model = (node.gpu_type or "gpu").upper()
    slug = base = slugify(f"{cluster}-{node.name}")
    n = 1
    while Resource.objects.filter(slug=slug).exists():
        n += 1
        slug = f"{base}-{n}"
    return gpu_node_create(
        name=f"{model} node {node.name}",
        slug=slug,
        location=location,
        gpu_model=model,
        gpu_count=node.gpu_count,
        gpu_memory_gb=GPU_MEMORY_GB.get((node.gpu_type or "").lower(), DEFAULT_GPU_MEMORY_GB),
        cpus=max(1, node.cpus),
        memory_gb=max(1, node.memory_mb // 1024),
        slurm_cluster=cluster,
        slurm_partition=node.partitions[0] if node.partitions else "",
        slurm_node=node.name,
    )


def _default_location(cluster: str) -> Location:
    sibling = GpuNode.objects.filter(slurm_cluster=cluster).select_related("resource").first()
    if sibling is not None:
        return sibling.resource.location
    location, _ = Location.objects.get_or_create(
        name="Computing centre",
        level=Location.Level.BUILDING,
        defaults={"park": Park.HONG_KONG},
    )
    return location


def _pools_by_model(cluster: str) -> list[str]:
    """An "any <model>" pool per GPU model, holding the cluster's nodes of that model."""
    done = []
    nodes = GpuNode.objects.filter(slurm_cluster=cluster).select_related("resource")
    by_model: dict[str, list[Resource]] = {}
    for node in nodes:
        by_model.setdefault(node.gpu_model.upper(), []).append(node.resource)
    for model, resources in sorted(by_model.items()):
        pool, _ = ResourcePool.objects.get_or_create(
            slug=slugify(f"any-{model}"),
            defaults={"name": f"Any {model}", "kind": ResourceKind.GPU_NODE},
        )
        if pool.kind != ResourceKind.GPU_NODE:
            continue
        before = set(pool.members.values_list("pk", flat=True))
        pool.members.add(*resources)
        added = len({r.pk for r in resources} - before)
        done.append(
            f"{pool.slug}: {pool.members.count()} nodes" + (f" (+{added})" if added else "")
        )
    return done
