"""slurm_sync_nodes against the real dev cluster: import GPU nodes, report and fix drift."""

from __future__ import annotations

import pytest
from django.core.management import call_command

from resources.models import GpuNode, ResourcePool
from resources.slurm_sync import slurm_nodes_sync

pytestmark = [pytest.mark.slurm, pytest.mark.slow, pytest.mark.django_db]


def test_it_reports_drift_without_changing_the_catalogue(park, slurm):
    # The test park's gpu01 is in cluster "park": A100 × 4, 32 CPUs, 256 GB (Slurm says 125 GB).
    report = slurm_nodes_sync(client=slurm, cluster="park")
    assert not report.in_step
    assert "gpu01: memory_gb 256 → 125" in report.drift
    assert {
        "gpu02: in Slurm, not in the catalogue",
        "gpu04: in Slurm, not in the catalogue",
    } <= set(report.drift)
    assert any(line.startswith("gpu: 4 nodes, 24 GPUs") for line in report.partitions)
    assert GpuNode.objects.filter(slurm_cluster="park").count() == 1


def test_apply_imports_nodes_fixes_drift_and_pools_them_by_model(park, slurm):
    report = slurm_nodes_sync(client=slurm, cluster="park", apply=True)
    assert len(report.created) == 3 and report.updated == ["gpu01: memory_gb 256 → 125"]
    nodes = {g.slurm_node: g for g in GpuNode.objects.filter(slurm_cluster="park")}
    assert (nodes["gpu03"].gpu_model, nodes["gpu03"].gpu_count) == ("H100", 8)
    assert nodes["gpu03"].resource.capacity == 8
    assert nodes["gpu03"].resource.location == park.gpu.location
    assert set(ResourcePool.objects.get(slug="any-a100").members.all()) == {
        nodes["gpu01"].resource,
        nodes["gpu02"].resource,
    }
    assert ResourcePool.objects.get(slug="any-h100").members.count() == 2
    again = slurm_nodes_sync(client=slurm, cluster="park")
    assert again.in_step and not again.created and not again.updated


def test_the_command_exits_1_on_drift_and_0_once_applied(park, settings, slurm_env, capsys):
    settings.SLURM_REST_URL = slurm_env["SLURM_REST_URL"]
    settings.SLURM_USER = slurm_env["SLURM_USER"]
    settings.SLURM_JWT_KEY_FILE = slurm_env.get("SLURM_JWT_KEY_FILE", "")
    settings.SLURM_TOKEN = slurm_env.get("SLURM_TOKEN", "")
    with pytest.raises(SystemExit) as caught:
        call_command("slurm_sync_nodes", cluster="park")
    assert caught.value.code == 1
    assert "disagree" in capsys.readouterr().out
    call_command("slurm_sync_nodes", cluster="park", apply=True)
    call_command("slurm_sync_nodes", cluster="park")
    assert "catalogue and Slurm agree" in capsys.readouterr().out
